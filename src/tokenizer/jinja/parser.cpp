#include "tokenizer/jinja/parser.h"

#include <cerrno>
#include <cstdlib>

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/lexer.h"

namespace llmtune::tokenizer::jinja {

namespace {

constexpr int kMaxNesting = 200;  // nested expressions and blocks; bounds parser recursion

const char* kUnsupportedTags[] = {"include", "extends",    "block", "import", "from",
                                  "with",    "autoescape", "trans", "do",     "print"};

class Parser {
  public:
    explicit Parser(const std::string& src) : src_(src), toks_(tokenize(src)) {}

    NodeList run() {
        NodeList out = statements({});
        if (peek().type != TokenType::eof) fail(peek(), "unexpected tag");
        return out;
    }

  private:
    struct DepthGuard {
        Parser& p;
        DepthGuard(Parser& parser, const Token& at) : p(parser) {
            if (++p.depth_ > kMaxNesting)
                p.fail(at,
                       "template nested more than " + std::to_string(kMaxNesting) + " levels deep");
        }
        ~DepthGuard() { --p.depth_; }
    };

    const Token& peek(size_t ahead = 0) const {
        size_t i = std::min(pos_ + ahead, toks_.size() - 1);
        return toks_[i];
    }
    const Token& next() {
        const Token& t = toks_[pos_];
        if (pos_ + 1 < toks_.size()) ++pos_;
        return t;
    }
    bool is_op(const char* op, size_t ahead = 0) const {
        return peek(ahead).type == TokenType::op && peek(ahead).value == op;
    }
    bool is_name(const char* n, size_t ahead = 0) const {
        return peek(ahead).type == TokenType::name && peek(ahead).value == n;
    }
    bool accept_op(const char* op) {
        if (!is_op(op)) return false;
        next();
        return true;
    }
    bool accept_name(const char* n) {
        if (!is_name(n)) return false;
        next();
        return true;
    }
    [[noreturn]] void fail(const Token& at, const std::string& what) {
        syntax_error(src_, at.offset, what);
    }
    static std::string describe(const Token& t) {
        switch (t.type) {
            case TokenType::eof:
                return "end of template";
            case TokenType::text:
                return "text";
            case TokenType::block_end:
                return "'%}'";
            case TokenType::var_end:
                return "'}}'";
            case TokenType::string:
                return "a string";
            default:
                return "'" + t.value + "'";
        }
    }
    void expect_op(const char* op) {
        if (!accept_op(op))
            fail(peek(), std::string("expected '") + op + "', got " + describe(peek()));
    }
    std::string expect_name() {
        if (peek().type != TokenType::name)
            fail(peek(), "expected a name, got " + describe(peek()));
        return next().value;
    }
    void expect_block_end() {
        if (peek().type != TokenType::block_end)
            fail(peek(), "expected '%}', got " + describe(peek()));
        next();
    }
    NodePtr make(NodeKind k, size_t off) { return std::make_unique<Node>(k, off); }

    // Parses template content until `{% <one of end_names> %}`; leaves the cursor on the name
    // of the end tag. With no end names, parses to the end of the template.
    NodeList statements(const std::vector<std::string>& end_names) {
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

    void statement(NodeList& out) {
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
                if (tag == u)
                    fail(t, "the {% " + tag + " %} tag is not supported in chat templates");
            fail(t, "unknown tag '" + tag + "'");
        }
    }

    void end_tag(const char* name) {
        expect_name();  // the end tag's name, already matched by statements()
        (void)name;
        expect_block_end();
    }

    NodePtr if_stmt(size_t off) {
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

    NodePtr for_stmt(size_t off) {
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

    NodePtr set_stmt(size_t off) {
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

    std::vector<Arg> params() {
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
                fail(peek(),
                     "parameter '" + a.name + "' without a default follows one with a default");
            }
            out.push_back(std::move(a));
        }
        return out;
    }

    NodePtr macro_stmt(size_t off) {
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

    NodePtr call_block(size_t off) {
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
    NodePtr assign_target(bool with_ns) {
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

    // expression [, expression ...]; a tuple when there is a comma.
    NodePtr tuple_expr(bool allow_empty_paren, bool with_condexpr = true) {
        (void)allow_empty_paren;
        size_t off = peek().offset;
        NodeList items;
        bool comma = false;
        while (true) {
            if (!items.empty()) {
                if (!accept_op(",")) break;
                comma = true;
                if (!starts_expression()) break;
            }
            items.push_back(expression(with_condexpr));
        }
        if (!comma) return std::move(items[0]);
        auto n = make(NodeKind::tuple, off);
        n->children = std::move(items);
        return n;
    }

    bool starts_expression() const {
        const Token& t = peek();
        switch (t.type) {
            case TokenType::name:
            case TokenType::string:
            case TokenType::integer:
            case TokenType::floating:
                return true;
            case TokenType::op:
                return t.value == "(" || t.value == "[" || t.value == "{" || t.value == "-" ||
                       t.value == "+";
            default:
                return false;
        }
    }

    NodePtr expression(bool with_condexpr) {
        DepthGuard guard(*this, peek());
        NodePtr e = or_expr();
        while (with_condexpr && is_name("if")) {
            size_t off = next().offset;
            auto n = make(NodeKind::condexpr, off);
            NodePtr cond = or_expr();
            NodePtr other = accept_name("else") ? expression(true) : nullptr;
            n->children.push_back(std::move(cond));
            n->children.push_back(std::move(e));
            n->children.push_back(std::move(other));
            e = std::move(n);
        }
        return e;
    }

    NodePtr binary(const char* op, size_t off, NodePtr l, NodePtr r) {
        auto n = make(NodeKind::binary, off);
        n->name = op;
        n->children.push_back(std::move(l));
        n->children.push_back(std::move(r));
        return n;
    }

    NodePtr or_expr() {
        NodePtr l = and_expr();
        while (is_name("or")) {
            size_t off = next().offset;
            l = binary("or", off, std::move(l), and_expr());
        }
        return l;
    }
    NodePtr and_expr() {
        NodePtr l = not_expr();
        while (is_name("and")) {
            size_t off = next().offset;
            l = binary("and", off, std::move(l), not_expr());
        }
        return l;
    }
    NodePtr not_expr() {
        if (is_name("not")) {
            DepthGuard guard(*this, peek());
            auto n = make(NodeKind::unary, next().offset);
            n->name = "not";
            n->children.push_back(not_expr());
            return n;
        }
        return compare_expr();
    }
    NodePtr compare_expr() {
        size_t off = peek().offset;
        NodePtr first = math1();
        auto n = make(NodeKind::compare, off);
        while (true) {
            const Token& t = peek();
            std::string op;
            if (t.type == TokenType::op && (t.value == "==" || t.value == "!=" || t.value == "<" ||
                                            t.value == "<=" || t.value == ">" || t.value == ">=")) {
                op = t.value;
                next();
            } else if (is_name("in")) {
                op = "in";
                next();
            } else if (is_name("not") && is_name("in", 1)) {
                op = "not in";
                next();
                next();
            } else {
                break;
            }
            n->ops.push_back(op);
            n->children.push_back(math1());
        }
        if (n->ops.empty()) return first;
        n->children.insert(n->children.begin(), std::move(first));
        return n;
    }
    NodePtr math1() {
        NodePtr l = concat();
        while (is_op("+") || is_op("-")) {
            const Token& t = next();
            l = binary(t.value == "+" ? "+" : "-", t.offset, std::move(l), concat());
        }
        return l;
    }
    NodePtr concat() {
        NodePtr l = math2();
        while (is_op("~")) {
            size_t off = next().offset;
            l = binary("~", off, std::move(l), math2());
        }
        return l;
    }
    NodePtr math2() {
        NodePtr l = pow_expr();
        while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
            const Token& t = next();
            std::string op = t.value;
            l = binary(op == "*"    ? "*"
                       : op == "/"  ? "/"
                       : op == "//" ? "//"
                                    : "%",
                       t.offset, std::move(l), pow_expr());
        }
        return l;
    }
    NodePtr pow_expr() {
        NodePtr l = unary(true);
        while (is_op("**")) {
            size_t off = next().offset;
            l = binary("**", off, std::move(l), unary(true));
        }
        return l;
    }
    NodePtr unary(bool with_filter) {
        DepthGuard guard(*this, peek());
        NodePtr node;
        if (is_op("-") || is_op("+")) {
            const Token& t = next();
            node = make(NodeKind::unary, t.offset);
            node->name = t.value;
            node->children.push_back(unary(false));
        } else {
            node = primary();
        }
        node = postfix(std::move(node));
        if (with_filter) node = filter_expr(std::move(node));
        return node;
    }

    NodePtr primary() {
        const Token& t = peek();
        switch (t.type) {
            case TokenType::name: {
                next();
                auto n = make(NodeKind::literal, t.offset);
                if (t.value == "true" || t.value == "True") {
                    n->value = Value::boolean(true);
                } else if (t.value == "false" || t.value == "False") {
                    n->value = Value::boolean(false);
                } else if (t.value == "none" || t.value == "None") {
                    n->value = Value::none();
                } else {
                    n->kind = NodeKind::name;
                    n->name = t.value;
                }
                return n;
            }
            case TokenType::string: {
                std::string s;
                while (peek().type == TokenType::string)
                    s += next().value;
                auto n = make(NodeKind::literal, t.offset);
                n->value = Value::string(std::move(s));
                return n;
            }
            case TokenType::integer: {
                next();
                errno = 0;
                long long v = std::strtoll(t.value.c_str(), nullptr, 10);
                if (errno == ERANGE) fail(t, "integer literal out of range");
                auto n = make(NodeKind::literal, t.offset);
                n->value = Value::integer(v);
                return n;
            }
            case TokenType::floating: {
                next();
                auto n = make(NodeKind::literal, t.offset);
                n->value = Value::floating(std::strtod(t.value.c_str(), nullptr));
                return n;
            }
            case TokenType::op:
                if (t.value == "(") {
                    next();
                    if (accept_op(")")) {
                        auto n = make(NodeKind::tuple, t.offset);
                        return n;
                    }
                    NodePtr e = tuple_expr(true);
                    expect_op(")");
                    return e;
                }
                if (t.value == "[") {
                    next();
                    auto n = make(NodeKind::list, t.offset);
                    while (!accept_op("]")) {
                        if (!n->children.empty()) {
                            expect_op(",");
                            if (accept_op("]")) break;
                        }
                        n->children.push_back(expression(true));
                    }
                    return n;
                }
                if (t.value == "{") {
                    next();
                    auto n = make(NodeKind::dict, t.offset);
                    while (!accept_op("}")) {
                        if (!n->children.empty()) {
                            expect_op(",");
                            if (accept_op("}")) break;
                        }
                        n->children.push_back(expression(true));
                        expect_op(":");
                        n->children.push_back(expression(true));
                    }
                    return n;
                }
                break;
            default:
                break;
        }
        fail(t, "unexpected " + describe(t) + " in an expression");
    }

    NodePtr postfix(NodePtr node) {
        while (true) {
            const Token& t = peek();
            if (is_op(".")) {
                next();
                const Token& a = peek();
                if (a.type == TokenType::name) {
                    next();
                    auto n = make(NodeKind::getattr, t.offset);
                    n->children.push_back(std::move(node));
                    n->name = a.value;
                    node = std::move(n);
                } else if (a.type == TokenType::integer) {
                    next();
                    auto n = make(NodeKind::getitem, t.offset);
                    n->children.push_back(std::move(node));
                    auto idx = make(NodeKind::literal, a.offset);
                    idx->value = Value::integer(std::strtoll(a.value.c_str(), nullptr, 10));
                    n->children.push_back(std::move(idx));
                    node = std::move(n);
                } else {
                    fail(a, "expected an attribute name after '.'");
                }
            } else if (is_op("[")) {
                next();
                node = subscript(std::move(node), t.offset);
            } else if (is_op("(")) {
                node = call(std::move(node));
            } else {
                return node;
            }
        }
    }

    NodePtr subscript(NodePtr obj, size_t off) {
        NodePtr parts[3];
        int colons = 0;
        while (!is_op("]")) {
            if (accept_op(":")) {
                if (++colons > 2) fail(peek(), "too many ':' in a slice");
                continue;
            }
            if (parts[colons]) fail(peek(), "expected ']' or ':'");
            parts[colons] = expression(true);
            if (colons == 0 && is_op(",")) fail(peek(), "tuple subscripts are not supported");
        }
        next();
        if (colons == 0) {
            if (!parts[0]) fail(peek(), "empty subscript '[]'");
            auto n = make(NodeKind::getitem, off);
            n->children.push_back(std::move(obj));
            n->children.push_back(std::move(parts[0]));
            return n;
        }
        auto n = make(NodeKind::slice, off);
        n->children.push_back(std::move(obj));
        for (auto& p : parts)
            n->children.push_back(std::move(p));
        return n;
    }

    std::vector<Arg> call_args() {
        std::vector<Arg> out;
        expect_op("(");
        bool seen_keyword = false;
        while (!accept_op(")")) {
            if (!out.empty()) {
                expect_op(",");
                if (accept_op(")")) break;
            }
            Arg a;
            if (accept_op("*")) {
                a.kind = Arg::Kind::star;
            } else if (accept_op("**")) {
                a.kind = Arg::Kind::double_star;
            } else if (peek().type == TokenType::name && is_op("=", 1)) {
                a.kind = Arg::Kind::keyword;
                a.name = next().value;
                next();
                seen_keyword = true;
            } else if (seen_keyword) {
                fail(peek(), "a positional argument follows keyword arguments");
            }
            a.value = expression(true);
            out.push_back(std::move(a));
        }
        return out;
    }

    NodePtr call(NodePtr callee) {
        auto n = make(NodeKind::call, peek().offset);
        n->children.push_back(std::move(callee));
        n->args = call_args();
        return n;
    }

    std::string dotted_name() {
        std::string name = expect_name();
        while (is_op(".") && peek(1).type == TokenType::name) {
            next();
            name += "." + next().value;
        }
        return name;
    }

    // One or more `name(args)` filters joined by '|', applied to `operand`.
    NodePtr filter_chain(NodePtr operand) {
        while (true) {
            const Token& t = peek();
            std::string name = dotted_name();
            if (!is_known_filter(name)) fail(t, "unknown or unsupported filter '" + name + "'");
            auto n = make(NodeKind::filter, t.offset);
            n->name = name;
            n->children.push_back(std::move(operand));
            if (is_op("(")) n->args = call_args();
            operand = std::move(n);
            if (!accept_op("|")) return operand;
        }
    }

    NodePtr filter_expr(NodePtr node) {
        while (true) {
            if (is_op("|")) {
                next();
                const Token& t = peek();
                std::string name = dotted_name();
                if (!is_known_filter(name)) fail(t, "unknown or unsupported filter '" + name + "'");
                auto n = make(NodeKind::filter, t.offset);
                n->name = name;
                n->children.push_back(std::move(node));
                if (is_op("(")) n->args = call_args();
                node = std::move(n);
            } else if (is_name("is")) {
                next();
                node = test(std::move(node));
            } else if (is_op("(")) {
                node = call(std::move(node));
            } else {
                return node;
            }
        }
    }

    NodePtr test(NodePtr operand) {
        bool negated = accept_name("not");
        const Token& t = peek();
        std::string name = dotted_name();
        if (!is_known_test(name)) fail(t, "unknown or unsupported test '" + name + "'");
        auto n = make(NodeKind::test, t.offset);
        n->name = name;
        n->flag = negated;
        n->children.push_back(std::move(operand));
        const Token& a = peek();
        if (is_op("(")) {
            n->args = call_args();
        } else if ((a.type == TokenType::name || a.type == TokenType::string ||
                    a.type == TokenType::integer || a.type == TokenType::floating || is_op("[") ||
                    is_op("{")) &&
                   !(is_name("else") || is_name("or") || is_name("and") || is_name("if") ||
                     is_name("in") || is_name("not"))) {
            if (is_name("is")) fail(a, "tests cannot be chained with 'is'");
            Arg arg;
            arg.value = postfix(primary());
            n->args.push_back(std::move(arg));
        }
        return n;
    }

    const std::string& src_;
    std::vector<Token> toks_;
    size_t pos_ = 0;
    int depth_ = 0;
    int loop_depth_ = 0;
};

}  // namespace

NodeList parse_template(const std::string& source) {
    return Parser(source).run();
}

}  // namespace llmtune::tokenizer::jinja
