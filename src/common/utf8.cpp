#include "common/utf8.h"

namespace llmtune {

namespace {
const char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD
}

size_t utf8_sequence_length(std::string_view s, size_t i, size_t* maximal_subpart,
                            bool* incomplete) {
    size_t prefix = 1;
    bool ran_out = false;
    auto result = [&](size_t len) {
        if (maximal_subpart) *maximal_subpart = prefix;
        if (incomplete) *incomplete = ran_out;
        return len;
    };
    auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    if (c < 0x80) return result(1);
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte (RFC 3629: no
                                         // overlongs, no surrogates, nothing above U+10FFFF)
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
        return result(0);
    }
    for (size_t k = 1; k < len; ++k) {
        if (i + k >= s.size()) {
            ran_out = true;
            return result(0);
        }
        const unsigned char x = b(i + k);
        if (x < (k == 1 ? lo : 0x80) || x > (k == 1 ? hi : 0xBF)) return result(0);
        prefix = k + 1;
    }
    return result(len);
}

size_t find_invalid_utf8(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        if (static_cast<unsigned char>(s[i]) < 0x80) {
            ++i;
            continue;
        }
        size_t len = utf8_sequence_length(s, i);
        if (len == 0) return i;
        i += len;
    }
    return std::string_view::npos;
}

std::string utf8_lossy(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        size_t subpart;
        size_t len = utf8_sequence_length(s, i, &subpart);
        if (len > 0) {
            out.append(s.substr(i, len));
            i += len;
        } else {
            out += kReplacement;
            i += subpart;
        }
    }
    return out;
}

std::string Utf8Stream::push(const std::string& bytes) {
    pending_ += bytes;
    std::string out;
    size_t i = 0;
    while (i < pending_.size()) {
        size_t subpart;
        bool incomplete;
        size_t n = utf8_sequence_length(pending_, i, &subpart, &incomplete);
        if (n > 0) {
            out.append(pending_, i, n);
            i += n;
        } else if (incomplete) {
            break;  // wait for the bytes that may complete it
        } else {
            out += kReplacement;
            i += subpart;
        }
    }
    pending_.erase(0, i);
    return out;
}

std::string Utf8Stream::finish() {
    std::string out = utf8_lossy(pending_);
    pending_.clear();
    return out;
}

void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

}  // namespace llmtune
