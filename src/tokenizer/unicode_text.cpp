#include "tokenizer/unicode_text.h"

#include <unicode/bytestream.h>
#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include "common/error.h"

namespace llmtune::tokenizer {

char32_t next_code_point(std::string_view s, size_t& i) {
    auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = b(i);
    if (c < 0x80) {
        i += 1;
        return c;
    }
    if (c < 0xE0) {
        char32_t cp = (char32_t(c & 0x1F) << 6) | (b(i + 1) & 0x3F);
        i += 2;
        return cp;
    }
    if (c < 0xF0) {
        char32_t cp =
            (char32_t(c & 0x0F) << 12) | (char32_t(b(i + 1) & 0x3F) << 6) | (b(i + 2) & 0x3F);
        i += 3;
        return cp;
    }
    char32_t cp = (char32_t(c & 0x07) << 18) | (char32_t(b(i + 1) & 0x3F) << 12) |
                  (char32_t(b(i + 2) & 0x3F) << 6) | (b(i + 3) & 0x3F);
    i += 4;
    return cp;
}

bool is_whitespace(char32_t cp) {
    if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
    return u_isUWhiteSpace(static_cast<UChar32>(cp));
}

bool is_word_char(char32_t cp) {
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') ||
               cp == '_';
    UChar32 c = static_cast<UChar32>(cp);
    if (u_hasBinaryProperty(c, UCHAR_ALPHABETIC) || u_hasBinaryProperty(c, UCHAR_JOIN_CONTROL))
        return true;
    switch (u_charType(c)) {
        case U_NON_SPACING_MARK:
        case U_COMBINING_SPACING_MARK:
        case U_ENCLOSING_MARK:
        case U_DECIMAL_DIGIT_NUMBER:
        case U_CONNECTOR_PUNCTUATION:
            return true;
        default:
            return false;
    }
}

bool is_numeric(char32_t cp) {
    if (cp < 0x80) return cp >= '0' && cp <= '9';
    switch (u_charType(static_cast<UChar32>(cp))) {
        case U_DECIMAL_DIGIT_NUMBER:
        case U_LETTER_NUMBER:
        case U_OTHER_NUMBER:
            return true;
        default:
            return false;
    }
}

bool is_punctuation(char32_t cp) {
    if (cp < 0x80)
        return (cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x40) ||
               (cp >= 0x5B && cp <= 0x60) || (cp >= 0x7B && cp <= 0x7E);
    return u_ispunct(static_cast<UChar32>(cp));
}

bool is_combining_mark(char32_t cp) {
    switch (u_charType(static_cast<UChar32>(cp))) {
        case U_NON_SPACING_MARK:
        case U_COMBINING_SPACING_MARK:
        case U_ENCLOSING_MARK:
            return true;
        default:
            return false;
    }
}

namespace {
bool is_ascii(const std::string& s) {
    for (unsigned char c : s)
        if (c >= 0x80) return false;
    return true;
}

const icu::Normalizer2& normalizer_for(NormalForm form) {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = nullptr;
    switch (form) {
        case NormalForm::nfc:
            n = icu::Normalizer2::getNFCInstance(status);
            break;
        case NormalForm::nfd:
            n = icu::Normalizer2::getNFDInstance(status);
            break;
        case NormalForm::nfkc:
            n = icu::Normalizer2::getNFKCInstance(status);
            break;
        case NormalForm::nfkd:
            n = icu::Normalizer2::getNFKDInstance(status);
            break;
    }
    if (U_FAILURE(status) || n == nullptr)
        throw Error(ErrorKind::internal,
                    std::string("ICU normalizer unavailable: ") + u_errorName(status),
                    "the ICU data library (libicu) is missing or broken");
    return *n;
}
}  // namespace

std::string unicode_normalize(const std::string& s, NormalForm form) {
    // ASCII is invariant under all four forms.
    if (is_ascii(s)) return s;
    const icu::Normalizer2& n = normalizer_for(form);
    UErrorCode status = U_ZERO_ERROR;
    if (n.isNormalizedUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())), status) &&
        U_SUCCESS(status))
        return s;
    status = U_ZERO_ERROR;
    std::string out;
    out.reserve(s.size() + s.size() / 4);
    icu::StringByteSink<std::string> sink(&out);
    n.normalizeUTF8(0, icu::StringPiece(s.data(), static_cast<int32_t>(s.size())), sink, nullptr,
                    status);
    if (U_FAILURE(status))
        throw Error(ErrorKind::internal,
                    std::string("ICU normalization failed: ") + u_errorName(status));
    return out;
}

std::string unicode_lowercase(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            out += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
            ++i;
            continue;
        }
        char32_t cp = next_code_point(s, i);
        // One character at a time, as Rust's char::to_lowercase: the full mapping (İ becomes
        // two characters) but none of the context-dependent rules such as final sigma.
        icu::UnicodeString one(static_cast<UChar32>(cp));
        one.toLower(icu::Locale::getRoot());
        one.toUTF8String(out);
    }
    return out;
}

}  // namespace llmtune::tokenizer
