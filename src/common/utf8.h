// UTF-8 validation and repair, shared by the tokenizer and text streaming.
//
// Tokens are byte sequences, and one character may be split across tokens. Utf8Stream holds
// back an incomplete trailing sequence until the bytes that complete it arrive, so every
// string it emits is valid UTF-8. Bytes that can never form a character are replaced with
// U+FFFD, one per maximal invalid subpart, as Hugging Face (Rust's from_utf8_lossy) and the
// WHATWG decoder do.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace llmtune {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if none starts there. When 0,
// *maximal_subpart is the length of the longest prefix of a valid sequence there (at least 1),
// and *incomplete tells whether that prefix runs to the end of `s` (more bytes may complete it).
size_t utf8_sequence_length(std::string_view s, size_t i, size_t* maximal_subpart = nullptr,
                            bool* incomplete = nullptr);

// Offset of the first byte that is not part of valid UTF-8, or npos.
size_t find_invalid_utf8(std::string_view s);
inline bool is_valid_utf8(std::string_view s) {
    return find_invalid_utf8(s) == std::string_view::npos;
}

// `s` with each maximal invalid subpart replaced by U+FFFD.
std::string utf8_lossy(std::string_view s);

// Appends the UTF-8 encoding of code point `cp` (<= U+10FFFF) to `out`.
void append_utf8(std::string& out, char32_t cp);

class Utf8Stream {
  public:
    // Appends bytes and returns the text that is now complete (possibly empty).
    std::string push(const std::string& bytes);
    // Returns what remains; an unfinished sequence becomes U+FFFD.
    std::string finish();

  private:
    std::string pending_;
};

}  // namespace llmtune
