// Tokenizer for Jinja templates, configured as transformers configures Jinja2 for chat
// templates: trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False.
//
// Newlines are normalized to "\n" first, as Jinja2 does. Whitespace control: "{%-" strips
// the whitespace before a tag, "-%}" the whitespace after it; "{%+" and "+%}" turn off
// lstrip_blocks / trim_blocks for that tag. Comments vanish; {% raw %} blocks become text.
#pragma once

#include <string>
#include <vector>

namespace llmtune::tokenizer::jinja {

enum class TokenType {
    text,         // literal template text
    var_begin,    // {{
    var_end,      // }}
    block_begin,  // {%
    block_end,    // %}
    name,
    string,   // value is the unescaped contents
    integer,  // value is the digits (underscores removed)
    floating,
    op,  // operator or punctuation: + - * / // % ** ~ == != < <= > >= = . : | , ; ( ) [ ] { }
    eof,
};

struct Token {
    TokenType type;
    std::string value;
    size_t offset;  // byte offset in the normalized source
};

// Throws llmtune::Error(invalid_input) naming line, column and the offending snippet.
std::vector<Token> tokenize(const std::string& normalized_source);

// "\r\n" and "\r" become "\n"; one trailing newline is dropped.
std::string normalize_newlines(const std::string& source);

// "line 3, column 7" for an offset into the normalized source.
std::string describe_position(const std::string& source, size_t offset);
// The source line holding `offset`, trimmed to at most ~80 characters around it.
std::string snippet_at(const std::string& source, size_t offset);

// Throws invalid_input: "chat template syntax error at line L, column C: <what>" with the
// snippet in the message and `hint` as the hint.
[[noreturn]] void syntax_error(const std::string& source, size_t offset, const std::string& what,
                               const std::string& hint = "");

}  // namespace llmtune::tokenizer::jinja
