#include "common/utf8.h"

namespace llmtune {

namespace {
const char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD
}

size_t utf8_sequence_length(const std::string& s, size_t i, bool* incomplete) {
    *incomplete = false;
    auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = b(i);
    size_t len;
    // Allowed ranges for the second byte follow RFC 3629 (no overlongs, no surrogates,
    // nothing above U+10FFFF).
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    for (size_t k = 1; k < len; ++k) {
        if (i + k >= s.size()) {
            *incomplete = true;
            return 0;
        }
        unsigned char x = b(i + k);
        unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
        if (x < l || x > h) return 0;
    }
    return len;
}

bool is_valid_utf8(const std::string& s) {
    for (size_t i = 0; i < s.size();) {
        bool incomplete;
        size_t n = utf8_sequence_length(s, i, &incomplete);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

std::string Utf8Stream::push(const std::string& bytes) {
    pending_ += bytes;
    std::string out;
    size_t i = 0;
    while (i < pending_.size()) {
        bool incomplete;
        size_t n = utf8_sequence_length(pending_, i, &incomplete);
        if (incomplete) break;  // wait for more bytes
        if (n == 0) {
            out += kReplacement;
            i += 1;
        } else {
            out.append(pending_, i, n);
            i += n;
        }
    }
    pending_.erase(0, i);
    return out;
}

std::string Utf8Stream::finish() {
    std::string out = pending_.empty() ? "" : kReplacement;
    pending_.clear();
    return out;
}

}  // namespace llmtune
