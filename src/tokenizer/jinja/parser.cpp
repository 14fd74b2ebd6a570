#include <cerrno>
#include <cstdlib>

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/parser.h"
#include "tokenizer/jinja/parser_impl.h"

namespace llmtune::tokenizer::jinja {

namespace detail {

namespace {

const char* kUnsupportedTags[] = {"include", "extends",    "block", "import", "from",
                                  "with",    "autoescape", "trans", "do",     "print"};

}  // namespace

// Parses template content until `{% <one of end_names> %}`; leaves the cursor on the name
// of the end tag. With no end names, parses to the end of the template.
NodeList Parser::statements(const std::vector<std::string>& end_names) {
    NodeList out;
    while (true) {
        const Token& t = peek();
        if (t.type == TokenType::eof) {
            if (!end_names.empty()) {
                std::string want;
                for (const auto& n : end_names)
                    want += (want.empty() ? "" : " or ") + n;
                fail(t, "unexpected end of template, expected {% " + want + " %}");
            }
            return out;
        }
        if (t.type == TokenType::text) {
            auto n = make(NodeKind::text, t.offset);
            n->value = Value::string(t.value);
            out.push_back(std::move(n));
            next();
        } else if (t.type == TokenType::var_begin) {
            next();
            auto n = make(NodeKind::output, t.offset);
            n->children.push_back(tuple_expr(false));
            if (peek().type != TokenType::var_end)
                fail(peek(), "expected '}}', got " + describe(peek()));
            next();
            out.push_back(std::move(n));
        } else if (t.type == TokenType::block_begin) {
            const Token& name = peek(1);
            if (name.type == TokenType::name) {
                for (const auto& e : end_names)
                    if (name.value == e) {
                        next();
                        return out;
                    }
            }
            next();
            statement(out);
        } else {
            fail(t, "unexpected " + describe(t));
        }
    }
}

void Parser::statement(NodeList& out) {
    const Token& t = peek();
    DepthGuard guard(*this, t);
    if (t.type != TokenType::name) fail(t, "expected a tag name, got " + describe(t));
    std::string tag = next().value;
    if (tag == "if") {
        out.push_back(if_stmt(t.offset));
    } else if (tag == "for") {
        out.push_back(for_stmt(t.offset));
    } else if (tag == "set") {
        out.push_back(set_stmt(t.offset));
    } else if (tag == "macro") {
        out.push_back(macro_stmt(t.offset));
    } else if (tag == "call") {
        out.push_back(call_block(t.offset));
    } else if (tag == "filter") {
        auto n = make(NodeKind::filter_block, t.offset);
        n->children.push_back(filter_chain(nullptr));
        expect_block_end();
        n->body = statements({"endfilter"});
        end_tag("endfilter");
        out.push_back(std::move(n));
    } else if (tag == "break" || tag == "continue") {
        if (loop_depth_ == 0) fail(t, "'" + tag + "' outside of a for loop");
        expect_block_end();
        out.push_back(
            make(tag == "break" ? NodeKind::break_stmt : NodeKind::continue_stmt, t.offset));
    } else if (tag == "generation") {
        // transformers' {% generation %} marks assistant text for masks; it renders its body.
        expect_block_end();
        NodeList body = statements({"endgeneration"});
        end_tag("endgeneration");
        for (auto& n : body)
            out.push_back(std::move(n));
    } else {
        for (const char* u : kUnsupportedTags)
            if (tag == u) fail(t, "the {% " + tag + " %} tag is not supported in chat templates");
        fail(t, "unknown tag '" + tag + "'");
    }
}

void Parser::end_tag(const char* name) {
    expect_name();  // the end tag's name, already matched by statements()
    (void)name;
    expect_block_end();
}

NodePtr Parser::if_stmt(size_t off) {
    auto n = make(NodeKind::if_stmt, off);
    n->children.push_back(expression(true));
    expect_block_end();
    n->body = statements({"elif", "else", "endif"});
    const Token& t = next();
    if (t.value == "elif") {
        n->else_body.push_back(if_stmt(t.offset));
        return n;  // the nested if consumed {% endif %}
    }
    if (t.value == "else") {
        expect_block_end();
        n->else_body = statements({"endif"});
        next();
    }
    expect_block_end();
    return n;
}

NodePtr Parser::for_stmt(size_t off) {
    auto n = make(NodeKind::for_stmt, off);
    n->children.push_back(assign_target(false));
    if (!accept_name("in")) fail(peek(), "expected 'in' after the loop variable");
    n->children.push_back(tuple_expr(false, false));
    if (accept_name("if"))
        n->children.push_back(expression(true));
    else
        n->children.push_back(nullptr);
    if (is_name("recursive")) fail(peek(), "recursive loops are not supported");
    expect_block_end();
    ++loop_depth_;
    n->body = statements({"endfor", "else"});
    --loop_depth_;
    if (next().value == "else") {
        expect_block_end();
        int saved = loop_depth_;
        loop_depth_ = 0;  // break/continue in a loop's else apply to an outer loop
        n->else_body = statements({"endfor"});
        loop_depth_ = saved;
        next();
    }
    expect_block_end();
    return n;
}

NodePtr Parser::set_stmt(size_t off) {
    NodePtr target = assign_target(true);
    if (accept_op("=")) {
        auto n = make(NodeKind::set_stmt, off);
        n->children.push_back(std::move(target));
        n->children.push_back(tuple_expr(true));
        expect_block_end();
        return n;
    }
    auto n = make(NodeKind::set_block, off);
    n->children.push_back(std::move(target));
    n->children.push_back(is_op("|") ? (next(), filter_chain(nullptr)) : nullptr);
    expect_block_end();
    n->body = statements({"endset"});
    end_tag("endset");
    return n;
}

std::vector<Arg> Parser::params() {
    std::vector<Arg> out;
    expect_op("(");
    while (!accept_op(")")) {
        if (!out.empty()) expect_op(",");
        if (accept_op(")")) break;
        Arg a;
        a.name = expect_name();
        for (const auto& p : out)
            if (p.name == a.name) fail(peek(), "duplicate parameter '" + a.name + "'");
        if (accept_op("=")) {
            a.kind = Arg::Kind::keyword;
            a.value = expression(true);
        } else if (!out.empty() && out.back().value) {
            fail(peek(), "parameter '" + a.name + "' without a default follows one with a default");
        }
        out.push_back(std::move(a));
    }
    return out;
}

NodePtr Parser::macro_stmt(size_t off) {
    auto n = make(NodeKind::macro, off);
    n->name = expect_name();
    n->args = params();
    expect_block_end();
    int saved = loop_depth_;
    loop_depth_ = 0;
    n->body = statements({"endmacro"});
    loop_depth_ = saved;
    end_tag("endmacro");
    return n;
}

NodePtr Parser::call_block(size_t off) {
    auto n = make(NodeKind::call_block, off);
    if (is_op("(")) n->args = params();
    NodePtr call = expression(true);
    if (call->kind != NodeKind::call) fail(peek(), "expected a macro call after 'call'");
    n->children.push_back(std::move(call));
    expect_block_end();
    n->body = statements({"endcall"});
    end_tag("endcall");
    return n;
}

// A name, a namespace attribute (with_ns) or a tuple of names.
NodePtr Parser::assign_target(bool with_ns) {
    const Token& t = peek();
    bool paren = accept_op("(");
    NodeList names;
    while (true) {
        const Token& nt = peek();
        std::string name = expect_name();
        if (with_ns && is_op(".") && !paren) {
            next();
            auto n = make(NodeKind::getattr, nt.offset);
            auto obj = make(NodeKind::name, nt.offset);
            obj->name = name;
            n->children.push_back(std::move(obj));
            n->name = expect_name();
            return n;
        }
        auto n = make(NodeKind::name, nt.offset);
        n->name = name;
        names.push_back(std::move(n));
        if (!accept_op(",")) break;
        if (paren && is_op(")")) break;
    }
    if (paren) expect_op(")");
    if (names.size() == 1 && !paren) return std::move(names[0]);
    auto tup = make(NodeKind::tuple, t.offset);
    tup->children = std::move(names);
    return tup;
}

}  // namespace detail

NodeList parse_template(const std::string& source) {
    return detail::Parser(source).run();
}

}  // namespace llmtune::tokenizer::jinja
