#include "tokenizer/jinja/lexer.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "common/error.h"
#include "tokenizer/jinja/text.h"

namespace llmtune::tokenizer::jinja {

namespace {

// The code point at s[i] and its byte length; invalid bytes read as U+FFFD of length 1.
char32_t cp_at(const std::string& s, size_t i, size_t* len) {
    std::u32string one = utf8_decode(s.substr(i, 4));
    char32_t c = one.empty() ? 0 : one[0];
    size_t n = 1;
    unsigned char b = static_cast<unsigned char>(s[i]);
    if (c != 0xfffd || (b == 0xef && s.compare(i, 3, "\xef\xbf\xbd") == 0)) {
        n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : 4;
    }
    *len = n;
    return c;
}

size_t skip_space(const std::string& s, size_t i) {
    while (i < s.size()) {
        size_t n;
        if (!is_space(cp_at(s, i, &n))) break;
        i += n;
    }
    return i;
}

// Python's str.rstrip() on text.
std::string rstrip_space(const std::string& text) {
    return py_strip(text, nullptr, false, true);
}

// True when text[from:] is non-empty and all whitespace (Jinja2's lstrip_blocks test).
bool all_space(const std::string& text, size_t from) {
    if (from >= text.size()) return false;
    return skip_space(text, from) == text.size();
}

bool is_name_start(char c) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool is_name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

class Lexer {
  public:
    explicit Lexer(const std::string& src) : s_(src) {}

    std::vector<Token> run() {
        size_t pos = 0;
        while (pos < s_.size()) {
            size_t tag = find_tag(pos);
            std::string text = s_.substr(pos, tag - pos);
            if (tag == s_.size()) {
                emit(TokenType::text, text, pos);
                break;
            }
            char kind = s_[tag + 1];
            char sign = tag + 2 < s_.size() ? s_[tag + 2] : '\0';
            if (sign == '-') {
                text = rstrip_space(text);
            } else if (sign != '+' && kind != '{') {
                size_t l_pos = text.rfind('\n');
                l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
                if ((l_pos > 0 || line_starting_) && all_space(text, l_pos)) text.resize(l_pos);
            }
            emit(TokenType::text, text, pos);
            size_t body = tag + 2 + ((sign == '-' || sign == '+') ? 1 : 0);
            if (kind == '#')
                pos = comment(tag, body);
            else if (kind == '%' && raw_block(tag, body, &pos))
                continue;
            else
                pos = tag_body(kind == '%', tag, body);
        }
        tokens_.push_back({TokenType::eof, "", s_.size()});
        return std::move(tokens_);
    }

  private:
    void emit(TokenType t, std::string v, size_t off) {
        if (t == TokenType::text && v.empty()) return;
        tokens_.push_back({t, std::move(v), off});
    }

    size_t find_tag(size_t pos) const {
        for (size_t i = s_.find('{', pos); i != std::string::npos; i = s_.find('{', i + 1))
            if (i + 1 < s_.size() && (s_[i + 1] == '{' || s_[i + 1] == '%' || s_[i + 1] == '#'))
                return i;
        return s_.size();
    }

    // After an end tag: "-" strips following whitespace, "+" keeps it, otherwise trim_blocks
    // (for blocks and comments only) drops one newline. Returns the new position.
    size_t after_end(size_t end_pos, char sign, bool trim) {
        size_t p = end_pos;
        if (sign == '-')
            p = skip_space(s_, p);
        else if (sign != '+' && trim && p < s_.size() && s_[p] == '\n')
            ++p;
        line_starting_ = p > 0 && s_[p - 1] == '\n';
        return p;
    }

    size_t comment(size_t tag, size_t body) {
        size_t end = s_.find("#}", body);
        if (end == std::string::npos)
            syntax_error(s_, tag, "missing end of comment tag '#}'",
                         "close every {# comment with #}");
        char sign = (end > body && (s_[end - 1] == '-' || s_[end - 1] == '+')) ? s_[end - 1] : 0;
        return after_end(end + 2, sign, true);
    }

    // {% raw %}...{% endraw %}: the text between is literal. Returns false if not a raw tag.
    bool raw_block(size_t tag, size_t body, size_t* pos) {
        size_t p = skip_space(s_, body);
        if (s_.compare(p, 3, "raw") != 0 || (p + 3 < s_.size() && is_name_char(s_[p + 3])))
            return false;
        p = skip_space(s_, p + 3);
        char sign = 0;
        if (p < s_.size() && (s_[p] == '-' || s_[p] == '+')) sign = s_[p++];
        if (s_.compare(p, 2, "%}") != 0) return false;
        size_t start = after_end(p + 2, sign, true);
        for (size_t q = s_.find("{%", start); q != std::string::npos; q = s_.find("{%", q + 2)) {
            size_t r = q + 2;
            char open_sign = 0;
            if (r < s_.size() && (s_[r] == '-' || s_[r] == '+')) open_sign = s_[r++];
            r = skip_space(s_, r);
            if (s_.compare(r, 6, "endraw") != 0) continue;
            r = skip_space(s_, r + 6);
            char close_sign = 0;
            if (r < s_.size() && (s_[r] == '-' || s_[r] == '+')) close_sign = s_[r++];
            if (s_.compare(r, 2, "%}") != 0) continue;
            std::string text = s_.substr(start, q - start);
            if (open_sign == '-') text = rstrip_space(text);
            emit(TokenType::text, text, start);
            *pos = after_end(r + 2, close_sign, true);
            return true;
        }
        syntax_error(s_, tag, "missing {% endraw %} for this {% raw %}");
    }

    size_t tag_body(bool block, size_t tag, size_t p) {
        emit(block ? TokenType::block_begin : TokenType::var_begin, block ? "{%" : "{{", tag);
        std::vector<char> brackets;
        const char* end_str = block ? "%}" : "}}";
        while (true) {
            p = skip_space(s_, p);
            if (p >= s_.size())
                syntax_error(
                    s_, tag,
                    std::string("unexpected end of template: this tag has no '") + end_str + "'");
            if (brackets.empty()) {
                char sign = (s_[p] == '-' || s_[p] == '+') ? s_[p] : 0;
                size_t q = p + (sign ? 1 : 0);
                if (s_.compare(q, 2, end_str) == 0 && !(sign == '+' && !block)) {
                    emit(block ? TokenType::block_end : TokenType::var_end, end_str, p);
                    return after_end(q + 2, sign, block);
                }
            }
            char c = s_[p];
            if (is_name_start(c)) {
                size_t q = p;
                while (q < s_.size() && is_name_char(s_[q]))
                    ++q;
                emit(TokenType::name, s_.substr(p, q - p), p);
                p = q;
            } else if (is_digit(c)) {
                p = number(p);
            } else if (c == '\'' || c == '"') {
                p = string_literal(p);
            } else {
                p = op(p, brackets);
            }
        }
    }

    size_t number(size_t p) {
        size_t q = p;
        std::string digits;
        auto take_digits = [&] {
            while (q < s_.size() && (is_digit(s_[q]) ||
                                     (s_[q] == '_' && q + 1 < s_.size() && is_digit(s_[q + 1])))) {
                if (s_[q] != '_') digits += s_[q];
                ++q;
            }
        };
        take_digits();
        bool after_dot =
            !tokens_.empty() && tokens_.back().type == TokenType::op && tokens_.back().value == ".";
        bool is_float = false;
        if (!after_dot && q + 1 < s_.size() && s_[q] == '.' && is_digit(s_[q + 1])) {
            digits += '.';
            ++q;
            take_digits();
            is_float = true;
        }
        if (!after_dot && q < s_.size() && (s_[q] == 'e' || s_[q] == 'E')) {
            size_t r = q + 1;
            if (r < s_.size() && (s_[r] == '+' || s_[r] == '-')) ++r;
            if (r < s_.size() && is_digit(s_[r])) {
                digits += 'e';
                digits.append(s_, q + 1, r - q - 1);
                q = r;
                take_digits();
                is_float = true;
            }
        }
        emit(is_float ? TokenType::floating : TokenType::integer, digits, p);
        return q;
    }

    size_t string_literal(size_t p) {
        char quote = s_[p];
        std::string out;
        size_t q = p + 1;
        while (true) {
            if (q >= s_.size())
                syntax_error(s_, p, "unterminated string literal",
                             std::string("close the string with ") + quote);
            char c = s_[q];
            if (c == quote) break;
            if (c != '\\') {
                out += c;
                ++q;
                continue;
            }
            if (q + 1 >= s_.size()) syntax_error(s_, p, "unterminated string literal");
            char e = s_[q + 1];
            q += 2;
            switch (e) {
                case '\n':
                    break;  // line continuation
                case '\\':
                    out += '\\';
                    break;
                case '\'':
                    out += '\'';
                    break;
                case '"':
                    out += '"';
                    break;
                case 'a':
                    out += '\a';
                    break;
                case 'b':
                    out += '\b';
                    break;
                case 'f':
                    out += '\f';
                    break;
                case 'n':
                    out += '\n';
                    break;
                case 'r':
                    out += '\r';
                    break;
                case 't':
                    out += '\t';
                    break;
                case 'v':
                    out += '\v';
                    break;
                case 'x':
                case 'u':
                case 'U': {
                    size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                    if (q + n > s_.size() || s_.substr(q, n).find_first_not_of(
                                                 "0123456789abcdefABCDEF") != std::string::npos)
                        syntax_error(s_, q - 2, std::string("truncated \\") + e + " escape");
                    unsigned long cp = std::stoul(s_.substr(q, n), nullptr, 16);
                    if (cp > 0x10ffff) syntax_error(s_, q - 2, "escape beyond U+10FFFF");
                    utf8_append(out, static_cast<char32_t>(cp));
                    q += n;
                    break;
                }
                default:
                    if (e >= '0' && e <= '7') {
                        unsigned cp = static_cast<unsigned>(e - '0');
                        for (int k = 0; k < 2 && q < s_.size() && s_[q] >= '0' && s_[q] <= '7'; ++k)
                            cp = cp * 8 + static_cast<unsigned>(s_[q++] - '0');
                        utf8_append(out, cp);
                    } else {
                        out += '\\';  // Python keeps unknown escapes as written
                        out += e;
                    }
            }
        }
        emit(TokenType::string, out, p);
        return q + 1;
    }

    size_t op(size_t p, std::vector<char>& brackets) {
        static const char* two[] = {"//", "**", "==", "!=", ">=", "<="};
        for (const char* t : two)
            if (s_.compare(p, 2, t) == 0) {
                emit(TokenType::op, t, p);
                return p + 2;
            }
        char c = s_[p];
        if (!std::strchr("+-/*%~[](){}<>=.:|,;", c)) {
            size_t n;
            cp_at(s_, p, &n);
            syntax_error(s_, p, "unexpected character '" + s_.substr(p, n) + "'");
        }
        if (c == '(' || c == '[' || c == '{')
            brackets.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
        if (c == ')' || c == ']' || c == '}') {
            if (brackets.empty()) syntax_error(s_, p, std::string("unexpected '") + c + "'");
            if (brackets.back() != c)
                syntax_error(
                    s_, p,
                    std::string("unexpected '") + c + "', expected '" + brackets.back() + "'");
            brackets.pop_back();
        }
        emit(TokenType::op, std::string(1, c), p);
        return p + 1;
    }

    const std::string& s_;
    std::vector<Token> tokens_;
    bool line_starting_ = true;
};

}  // namespace

std::string normalize_newlines(const std::string& source) {
    std::string out;
    out.reserve(source.size());
    for (size_t i = 0; i < source.size(); ++i) {
        if (source[i] == '\r') {
            out += '\n';
            if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
        } else {
            out += source[i];
        }
    }
    if (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

std::vector<Token> tokenize(const std::string& normalized_source) {
    return Lexer(normalized_source).run();
}

std::string describe_position(const std::string& source, size_t offset) {
    offset = std::min(offset, source.size());
    size_t line = 1, line_start = 0;
    for (size_t i = 0; i < offset; ++i)
        if (source[i] == '\n') {
            ++line;
            line_start = i + 1;
        }
    size_t col = codepoint_count(source.substr(line_start, offset - line_start)) + 1;
    return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

std::string snippet_at(const std::string& source, size_t offset) {
    offset = std::min(offset, source.size());
    size_t b = offset, e = offset;
    while (b > 0 && source[b - 1] != '\n' && offset - b < 40)
        --b;
    while (e < source.size() && source[e] != '\n' && e - offset < 40)
        ++e;
    // Do not cut a UTF-8 sequence in half.
    while (b > 0 && (static_cast<unsigned char>(source[b]) & 0xc0) == 0x80)
        --b;
    while (e < source.size() && (static_cast<unsigned char>(source[e]) & 0xc0) == 0x80)
        ++e;
    return source.substr(b, e - b);
}

void syntax_error(const std::string& source, size_t offset, const std::string& what,
                  const std::string& hint) {
    throw Error(ErrorKind::invalid_input,
                "chat template syntax error at " + describe_position(source, offset) + ": " + what +
                    "\n  near: " + snippet_at(source, offset),
                hint.empty() ? "fix the template (tokenizer_config.json's chat_template)" : hint);
}

}  // namespace llmtune::tokenizer::jinja
