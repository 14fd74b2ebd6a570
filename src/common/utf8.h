// UTF-8 helpers for streaming text out of a token generator.
//
// Tokens are byte sequences, and one character may be split across tokens. Utf8Stream holds
// back an incomplete trailing sequence until the bytes that complete it arrive, so every
// string it emits is valid UTF-8. Bytes that can never form a character are replaced with
// U+FFFD, as Python's bytes.decode(errors="replace") does.
#pragma once

#include <string>

namespace llmtune {

class Utf8Stream {
public:
    // Appends bytes and returns the text that is now complete (possibly empty).
    std::string push(const std::string& bytes);
    // Returns what remains; an unfinished sequence becomes U+FFFD.
    std::string finish();

private:
    std::string pending_;
};

// Length of the valid UTF-8 sequence starting at s[i], or 0 if none starts there.
// Sets *incomplete when the bytes so far are a valid but unfinished prefix.
size_t utf8_sequence_length(const std::string& s, size_t i, bool* incomplete);

bool is_valid_utf8(const std::string& s);

}  // namespace llmtune
