// Expression parsing, with Jinja2's precedence (see parser.h).
#include <cerrno>
#include <cstdlib>

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/parser_impl.h"

namespace llmtune::tokenizer::jinja::detail {

// expression [, expression ...]; a tuple when there is a comma.
NodePtr Parser::tuple_expr(bool allow_empty_paren, bool with_condexpr) {
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

bool Parser::starts_expression() const {
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

NodePtr Parser::expression(bool with_condexpr) {
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

NodePtr Parser::binary(const char* op, size_t off, NodePtr l, NodePtr r) {
    auto n = make(NodeKind::binary, off);
    n->name = op;
    n->children.push_back(std::move(l));
    n->children.push_back(std::move(r));
    return n;
}

NodePtr Parser::or_expr() {
    NodePtr l = and_expr();
    while (is_name("or")) {
        size_t off = next().offset;
        l = binary("or", off, std::move(l), and_expr());
    }
    return l;
}

NodePtr Parser::and_expr() {
    NodePtr l = not_expr();
    while (is_name("and")) {
        size_t off = next().offset;
        l = binary("and", off, std::move(l), not_expr());
    }
    return l;
}

NodePtr Parser::not_expr() {
    if (is_name("not")) {
        DepthGuard guard(*this, peek());
        auto n = make(NodeKind::unary, next().offset);
        n->name = "not";
        n->children.push_back(not_expr());
        return n;
    }
    return compare_expr();
}

NodePtr Parser::compare_expr() {
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

NodePtr Parser::math1() {
    NodePtr l = concat();
    while (is_op("+") || is_op("-")) {
        const Token& t = next();
        l = binary(t.value == "+" ? "+" : "-", t.offset, std::move(l), concat());
    }
    return l;
}

NodePtr Parser::concat() {
    NodePtr l = math2();
    while (is_op("~")) {
        size_t off = next().offset;
        l = binary("~", off, std::move(l), math2());
    }
    return l;
}

NodePtr Parser::math2() {
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

NodePtr Parser::pow_expr() {
    NodePtr l = unary(true);
    while (is_op("**")) {
        size_t off = next().offset;
        l = binary("**", off, std::move(l), unary(true));
    }
    return l;
}

NodePtr Parser::unary(bool with_filter) {
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

NodePtr Parser::primary() {
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

NodePtr Parser::postfix(NodePtr node) {
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

NodePtr Parser::subscript(NodePtr obj, size_t off) {
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

std::vector<Arg> Parser::call_args() {
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

NodePtr Parser::call(NodePtr callee) {
    auto n = make(NodeKind::call, peek().offset);
    n->children.push_back(std::move(callee));
    n->args = call_args();
    return n;
}

std::string Parser::dotted_name() {
    std::string name = expect_name();
    while (is_op(".") && peek(1).type == TokenType::name) {
        next();
        name += "." + next().value;
    }
    return name;
}

// One or more `name(args)` filters joined by '|', applied to `operand`.
NodePtr Parser::filter_chain(NodePtr operand) {
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

NodePtr Parser::filter_expr(NodePtr node) {
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

NodePtr Parser::test(NodePtr operand) {
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

}  // namespace llmtune::tokenizer::jinja::detail
