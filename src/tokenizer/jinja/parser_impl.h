// The parser's class, shared by parser.cpp (template structure and tags) and
// expression_parser.cpp (expressions). Internal to the Jinja engine.
#pragma once

#include <string>
#include <vector>

#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/lexer.h"

namespace llmtune::tokenizer::jinja::detail {

constexpr int kMaxNesting = 200;  // nested expressions and blocks; bounds parser recursion

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
    NodeList statements(const std::vector<std::string>& end_names);
    void statement(NodeList& out);
    void end_tag(const char* name);
    NodePtr if_stmt(size_t off);
    NodePtr for_stmt(size_t off);
    NodePtr set_stmt(size_t off);
    std::vector<Arg> params();
    NodePtr macro_stmt(size_t off);
    NodePtr call_block(size_t off);
    // A name, a namespace attribute (with_ns) or a tuple of names.
    NodePtr assign_target(bool with_ns);
    // expression [, expression ...]; a tuple when there is a comma.
    NodePtr tuple_expr(bool allow_empty_paren, bool with_condexpr = true);
    bool starts_expression() const;
    NodePtr expression(bool with_condexpr);
    NodePtr binary(const char* op, size_t off, NodePtr l, NodePtr r);
    NodePtr or_expr();
    NodePtr and_expr();
    NodePtr not_expr();
    NodePtr compare_expr();
    NodePtr math1();
    NodePtr concat();
    NodePtr math2();
    NodePtr pow_expr();
    NodePtr unary(bool with_filter);
    NodePtr primary();
    NodePtr postfix(NodePtr node);
    NodePtr subscript(NodePtr obj, size_t off);
    std::vector<Arg> call_args();
    NodePtr call(NodePtr callee);
    std::string dotted_name();
    // One or more `name(args)` filters joined by '|', applied to `operand`.
    NodePtr filter_chain(NodePtr operand);
    NodePtr filter_expr(NodePtr node);
    NodePtr test(NodePtr operand);

    const std::string& src_;
    std::vector<Token> toks_;
    size_t pos_ = 0;
    int depth_ = 0;
    int loop_depth_ = 0;
};

}  // namespace llmtune::tokenizer::jinja::detail
