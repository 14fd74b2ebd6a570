#include "tokenizer/byte_level.h"

#include <array>
#include <cstdint>

#include "tokenizer/unicode_text.h"

namespace llmtune::tokenizer {

const char* const kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

struct Tables {
    std::array<std::string, 256> byte_to_utf8;  // byte -> UTF-8 of its character
    std::array<int16_t, 0x144> char_to_byte;    // code point -> byte, or -1

    Tables() {
        char_to_byte.fill(-1);
        // Printable bytes stand for themselves; the others take U+0100 + n in byte order.
        auto printable = [](int b) {
            return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        };
        int n = 0;
        for (int b = 0; b < 256; ++b) {
            char32_t cp = printable(b) ? char32_t(b) : char32_t(0x100 + n++);
            append_utf8(byte_to_utf8[b], cp);
            char_to_byte[cp] = static_cast<int16_t>(b);
        }
    }
};

const Tables& tables() {
    static const Tables t;
    return t;
}

}  // namespace

void bytes_to_byte_level(std::string_view text, std::string& out) {
    const Tables& t = tables();
    for (unsigned char c : text)
        out += t.byte_to_utf8[c];
}

bool byte_level_to_bytes(std::string_view token, std::string& out) {
    const Tables& t = tables();
    size_t mark = out.size();
    size_t i = 0;
    while (i < token.size()) {
        size_t len = utf8_length(static_cast<unsigned char>(token[i]));
        if (i + len > token.size()) break;
        char32_t cp = next_code_point(token, i);
        if (cp >= t.char_to_byte.size() || t.char_to_byte[cp] < 0) {
            out.resize(mark);
            return false;
        }
        out += static_cast<char>(t.char_to_byte[cp]);
    }
    if (i != token.size()) {
        out.resize(mark);
        return false;
    }
    return true;
}

}  // namespace llmtune::tokenizer
