#include "tokenizer/jinja/text.h"

#include <locale.h>
#include <wctype.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace llmtune::tokenizer::jinja {

namespace {

locale_t utf8_locale() {
    // Created once, never freed: a process-wide immutable handle.
    static locale_t loc = [] {
        locale_t l = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
        if (!l) l = newlocale(LC_CTYPE_MASK, "C.utf8", static_cast<locale_t>(0));
        return l;
    }();
    return loc;
}

char32_t cp_upper(char32_t c) {
    if (c < 0x80) return (c >= 'a' && c <= 'z') ? c - 32 : c;
    locale_t l = utf8_locale();
    return l ? static_cast<char32_t>(towupper_l(static_cast<wint_t>(c), l)) : c;
}

char32_t cp_lower(char32_t c) {
    if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
    locale_t l = utf8_locale();
    return l ? static_cast<char32_t>(towlower_l(static_cast<wint_t>(c), l)) : c;
}

bool cp_cased(char32_t c) {
    return cp_upper(c) != c || cp_lower(c) != c;
}

// Python's str.isprintable() for the code points llmtune can classify without a Unicode
// database: controls, format characters, separators other than ' ', surrogates, private use.
bool cp_printable(char32_t c) {
    if (c < 0x20 || c == 0x7f) return false;
    if (c < 0x7f) return true;
    if (c <= 0xa0 || c == 0xad) return false;
    if ((c >= 0x600 && c <= 0x605) || c == 0x61c || c == 0x6dd || c == 0x70f || c == 0x180e)
        return false;
    if (c == 0x1680 || (c >= 0x2000 && c <= 0x200f) || (c >= 0x2028 && c <= 0x202f)) return false;
    if ((c >= 0x205f && c <= 0x206f) || c == 0x3000 || c == 0xfeff) return false;
    if (c >= 0xd800 && c <= 0xf8ff) return false;
    if ((c >= 0xfff9 && c <= 0xfffb) || (c >= 0xfffe && c <= 0xffff)) return false;
    if (c == 0xe0001 || (c >= 0xe0020 && c <= 0xe007f) || c >= 0xf0000) return false;
    return true;
}

std::string map_chars(const std::string& s, char32_t (*f)(char32_t)) {
    std::string out;
    out.reserve(s.size());
    for (char32_t c : utf8_decode(s))
        utf8_append(out, f(c));
    return out;
}

bool in_set(char32_t c, const std::u32string& set) {
    return set.find(c) != std::u32string::npos;
}

}  // namespace

void utf8_append(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xc0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xe0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
        out += static_cast<char>(0xf0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    }
}

std::u32string utf8_decode(const std::string& s) {
    std::u32string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
        bool ok = len > 0 && i + len <= s.size();
        for (int k = 1; ok && k < len; ++k) {
            unsigned char cc = static_cast<unsigned char>(s[i + k]);
            if ((cc >> 6) != 2) ok = false;
            cp = (cp << 6) | (cc & 0x3f);
        }
        if (!ok) {
            out += U'\ufffd';
            ++i;
            continue;
        }
        out += cp;
        i += len;
    }
    return out;
}

std::string utf8_encode(const std::u32string& s) {
    std::string out;
    out.reserve(s.size());
    for (char32_t c : s)
        utf8_append(out, c);
    return out;
}

size_t codepoint_count(const std::string& s) {
    size_t n = 0;
    for (char c : s)
        if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) ++n;
    return n;
}

bool is_space(char32_t c) {
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
           c == 0x202f || c == 0x205f || c == 0x3000;
}

std::string to_upper(const std::string& s) {
    return map_chars(s, cp_upper);
}
std::string to_lower(const std::string& s) {
    return map_chars(s, cp_lower);
}

std::string py_capitalize(const std::string& s) {
    std::u32string u = utf8_decode(s);
    for (size_t i = 0; i < u.size(); ++i)
        u[i] = i == 0 ? cp_upper(u[i]) : cp_lower(u[i]);
    return utf8_encode(u);
}

std::string py_title(const std::string& s) {
    std::u32string u = utf8_decode(s);
    bool prev_cased = false;
    for (char32_t& c : u) {
        bool cased = cp_cased(c);
        c = prev_cased ? cp_lower(c) : cp_upper(c);
        prev_cased = cased;
    }
    return utf8_encode(u);
}

std::string jinja_title(const std::string& s) {
    // Words start after runs of -, whitespace, (, {, [ or <; each word is item[0].upper() +
    // item[1:].lower(), the separators pass through unchanged.
    std::u32string u = utf8_decode(s), out;
    auto is_sep = [](char32_t c) {
        return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || is_space(c);
    };
    bool word_start = true;
    for (char32_t c : u) {
        if (is_sep(c)) {
            out += c;
            word_start = true;
        } else {
            out += word_start ? cp_upper(c) : cp_lower(c);
            word_start = false;
        }
    }
    return utf8_encode(out);
}

std::string py_strip(const std::string& s, const std::string* chars, bool left, bool right) {
    std::u32string u = utf8_decode(s);
    std::u32string set = chars ? utf8_decode(*chars) : std::u32string();
    auto strip_it = [&](char32_t c) { return chars ? in_set(c, set) : is_space(c); };
    size_t b = 0, e = u.size();
    if (left)
        while (b < e && strip_it(u[b]))
            ++b;
    if (right)
        while (e > b && strip_it(u[e - 1]))
            --e;
    return utf8_encode(u.substr(b, e - b));
}

std::vector<std::string> py_split(const std::string& s, const std::string* sep, int64_t maxsplit) {
    std::vector<std::string> out;
    if (sep) {
        size_t pos = 0;
        while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
            size_t f = s.find(*sep, pos);
            if (f == std::string::npos) break;
            out.push_back(s.substr(pos, f - pos));
            pos = f + sep->size();
        }
        out.push_back(s.substr(pos));
        return out;
    }
    std::u32string u = utf8_decode(s);
    size_t i = 0, n = u.size();
    while (true) {
        while (i < n && is_space(u[i]))
            ++i;
        if (i >= n) break;
        if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) {
            size_t e = n;
            while (e > i && is_space(u[e - 1]))
                --e;
            out.push_back(utf8_encode(u.substr(i, e - i)));
            break;
        }
        size_t j = i;
        while (j < n && !is_space(u[j]))
            ++j;
        out.push_back(utf8_encode(u.substr(i, j - i)));
        i = j;
    }
    return out;
}

std::vector<std::string> py_rsplit(const std::string& s, const std::string* sep, int64_t maxsplit) {
    if (maxsplit < 0) return py_split(s, sep, maxsplit);
    std::vector<std::string> rev;
    if (sep) {
        size_t end = s.size();  // the unsplit prefix is s[0, end)
        while (static_cast<int64_t>(rev.size()) < maxsplit && end >= sep->size()) {
            size_t f = s.rfind(*sep, end - sep->size());
            if (f == std::string::npos) break;
            rev.push_back(s.substr(f + sep->size(), end - f - sep->size()));
            end = f;
        }
        rev.push_back(s.substr(0, end));
    } else {
        std::u32string u = utf8_decode(s);
        size_t e = u.size();
        while (true) {
            while (e > 0 && is_space(u[e - 1]))
                --e;
            if (e == 0) break;
            if (static_cast<int64_t>(rev.size()) >= maxsplit) {
                size_t b = 0;
                while (b < e && is_space(u[b]))
                    ++b;
                rev.push_back(utf8_encode(u.substr(b, e - b)));
                break;
            }
            size_t b = e;
            while (b > 0 && !is_space(u[b - 1]))
                --b;
            rev.push_back(utf8_encode(u.substr(b, e - b)));
            e = b;
        }
    }
    return std::vector<std::string>(rev.rbegin(), rev.rend());
}

std::vector<std::string> py_splitlines(const std::string& s, bool keepends) {
    std::u32string u = utf8_decode(s);
    std::vector<std::string> out;
    size_t start = 0, i = 0;
    auto is_break = [](char32_t c) {
        return c == '\n' || c == '\r' || c == 0x0b || c == 0x0c || c == 0x1c || c == 0x1d ||
               c == 0x1e || c == 0x85 || c == 0x2028 || c == 0x2029;
    };
    while (i < u.size()) {
        if (is_break(u[i])) {
            size_t brk = (u[i] == '\r' && i + 1 < u.size() && u[i + 1] == '\n') ? 2 : 1;
            out.push_back(utf8_encode(u.substr(start, i - start + (keepends ? brk : 0))));
            i += brk;
            start = i;
        } else {
            ++i;
        }
    }
    if (start < u.size()) out.push_back(utf8_encode(u.substr(start)));
    return out;
}

std::string py_replace(const std::string& s, const std::string& from, const std::string& to,
                       int64_t count) {
    std::string out;
    if (from.empty()) {
        // Python inserts `to` before every code point and at the end.
        std::u32string u = utf8_decode(s);
        int64_t done = 0;
        for (char32_t c : u) {
            if (count < 0 || done < count) {
                out += to;
                ++done;
            }
            utf8_append(out, c);
        }
        if (count < 0 || done < count) out += to;
        return out;
    }
    size_t pos = 0;
    int64_t done = 0;
    while (count < 0 || done < count) {
        size_t f = s.find(from, pos);
        if (f == std::string::npos) break;
        out.append(s, pos, f - pos);
        out += to;
        pos = f + from.size();
        ++done;
    }
    out.append(s, pos, std::string::npos);
    return out;
}

int64_t py_count(const std::string& s, const std::string& sub) {
    if (sub.empty()) return static_cast<int64_t>(codepoint_count(s)) + 1;
    int64_t n = 0;
    for (size_t pos = s.find(sub); pos != std::string::npos; pos = s.find(sub, pos + sub.size()))
        ++n;
    return n;
}

int64_t py_find(const std::string& s, const std::string& sub) {
    size_t f = s.find(sub);
    if (f == std::string::npos) return -1;
    return static_cast<int64_t>(codepoint_count(s.substr(0, f)));
}

std::string py_repr_string(const std::string& s) {
    char quote = '\'';
    if (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) quote = '"';
    std::string out(1, quote);
    char buf[16];
    for (char32_t c : utf8_decode(s)) {
        if (c == static_cast<char32_t>(quote) || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (cp_printable(c)) {
            utf8_append(out, c);
        } else {
            if (c <= 0xff)
                std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(c));
            else if (c <= 0xffff)
                std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
            else
                std::snprintf(buf, sizeof buf, "\\U%08x", static_cast<unsigned>(c));
            out += buf;
        }
    }
    out += quote;
    return out;
}

std::string json_quote(const std::string& s, bool ensure_ascii) {
    std::string out = "\"";
    char buf[16];
    for (char32_t c : utf8_decode(s)) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            default:
                if (c < 0x20 || (ensure_ascii && c > 0x7e)) {
                    if (c >= 0x10000) {
                        char32_t v = c - 0x10000;
                        std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x",
                                      static_cast<unsigned>(0xd800 + (v >> 10)),
                                      static_cast<unsigned>(0xdc00 + (v & 0x3ff)));
                    } else {
                        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                    }
                    out += buf;
                } else {
                    utf8_append(out, c);
                }
        }
    }
    out += '"';
    return out;
}

std::string py_float_repr(double d) {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
    if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
    // Shortest digits that round-trip, as Python's repr does.
    char buf[64];
    int prec = 1;
    for (; prec <= 17; ++prec) {
        std::snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
        if (std::strtod(buf, nullptr) == d) break;
    }
    std::string sci = buf;  // [-]d.ddde[+-]XX
    bool neg = sci[0] == '-';
    if (neg) sci.erase(0, 1);
    size_t epos = sci.find('e');
    int exp = std::atoi(sci.c_str() + epos + 1);
    std::string digits;
    for (size_t i = 0; i < epos; ++i)
        if (sci[i] != '.') digits += sci[i];
    while (digits.size() > 1 && digits.back() == '0')
        digits.pop_back();
    std::string out = neg ? "-" : "";
    if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            out += "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
        } else if (static_cast<int>(digits.size()) <= exp + 1) {
            out += digits + std::string(static_cast<size_t>(exp + 1) - digits.size(), '0') + ".0";
        } else {
            out += digits.substr(0, static_cast<size_t>(exp + 1)) + "." +
                   digits.substr(static_cast<size_t>(exp + 1));
        }
        return out;
    }
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    std::snprintf(buf, sizeof buf, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    return out + buf;
}

}  // namespace llmtune::tokenizer::jinja
