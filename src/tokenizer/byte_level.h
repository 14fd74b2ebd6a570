// The byte-level alphabet of GPT-2 style tokenizers: every byte 0..255 is shown as one
// printable Unicode character (printable Latin-1 bytes as themselves, the rest as U+0100 and
// up), so that BPE works on text made of visible characters. The ByteLevel pre-tokenizer maps
// bytes to these characters and the ByteLevel decoder maps them back.
#pragma once

#include <string>
#include <string_view>

namespace llmtune::tokenizer {

// The GPT-2 pre-tokenization regex, used by ByteLevel with use_regex.
extern const char* const kGpt2Pattern;

// Appends the byte-level characters (UTF-8) for the bytes of `text`.
void bytes_to_byte_level(std::string_view text, std::string& out);

// Maps a byte-level token back to bytes. Returns false (and leaves `out` unchanged) when the
// token holds a character outside the byte-level alphabet.
bool byte_level_to_bytes(std::string_view token, std::string& out);

}  // namespace llmtune::tokenizer
