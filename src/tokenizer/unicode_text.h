// Unicode helpers for the tokenizer: UTF-8 iteration, character classes with the meanings the
// Hugging Face tokenizers library gives them (Rust's char methods and regex classes), and ICU
// normalization and lowercasing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/utf8.h"

namespace llmtune::tokenizer {

// Decodes the code point at s[i] and advances i. The input must be valid UTF-8.
char32_t next_code_point(std::string_view s, size_t& i);
// Length in bytes of the UTF-8 sequence that starts with `lead`.
inline size_t utf8_length(unsigned char lead) {
    return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}
// UTF-8 encoding, validation and repair (append_utf8, find_invalid_utf8, utf8_lossy) live in
// common/utf8.h.
using llmtune::append_utf8;
using llmtune::find_invalid_utf8;
using llmtune::utf8_lossy;

// Unicode White_Space (Rust char::is_whitespace, regex \s).
bool is_whitespace(char32_t cp);
// Rust regex \w: Alphabetic, marks, decimal numbers, connector punctuation, Join_Control.
bool is_word_char(char32_t cp);
// Rust char::is_numeric: general categories Nd, Nl, No.
bool is_numeric(char32_t cp);
// ASCII punctuation or a Unicode P* category (the Punctuation pre-tokenizer's test).
bool is_punctuation(char32_t cp);
// General categories Mn, Mc, Me (StripAccents).
bool is_combining_mark(char32_t cp);

enum class NormalForm { nfc, nfd, nfkc, nfkd };
std::string unicode_normalize(const std::string& s, NormalForm form);
// Full Unicode lowercase mapping, character by character (no context-dependent rules).
std::string unicode_lowercase(const std::string& s);

}  // namespace llmtune::tokenizer
