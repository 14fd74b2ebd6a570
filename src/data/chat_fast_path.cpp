#include "data/chat_fast_path.h"

#include "common/utf8.h"

#include <simdjson.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <utility>

namespace llmtune::data {

static_assert(kFastPathPadding >= simdjson::SIMDJSON_PADDING,
              "simdjson reads this far past a line");

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// The four hex digits at raw[i..i+4), or -1.
long hex4(std::string_view raw, size_t i) {
    if (i + 4 > raw.size()) return -1;
    long v = 0;
    for (size_t k = 0; k < 4; ++k) {
        int h = hex_value(raw[i + k]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

// A code point as canonical JSON string content (as canonical_record.cpp writes it) at `o`;
// returns the end. At most 6 bytes, never more than the \uXXXX escape it came from.
char* put_code_point(uint32_t cp, char* o) {
    static const char hex[] = "0123456789abcdef";
    auto two = [&](char e) {
        o[0] = '\\';
        o[1] = e;
        return o + 2;
    };
    if (cp < 0x20) {
        switch (cp) {
            case '\b':
                return two('b');
            case '\f':
                return two('f');
            case '\n':
                return two('n');
            case '\r':
                return two('r');
            case '\t':
                return two('t');
            default:
                std::memcpy(o, "\\u00", 4);
                o[4] = hex[cp >> 4];
                o[5] = hex[cp & 15];
                return o + 6;
        }
    }
    if (cp == '"') return two('"');
    if (cp == '\\') return two('\\');
    if (cp < 0x80) {
        *o = static_cast<char>(cp);
        return o + 1;
    }
    if (cp < 0x800) {
        o[0] = static_cast<char>(0xC0 | (cp >> 6));
        o[1] = static_cast<char>(0x80 | (cp & 0x3F));
        return o + 2;
    }
    if (cp < 0x10000) {
        o[0] = static_cast<char>(0xE0 | (cp >> 12));
        o[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        o[2] = static_cast<char>(0x80 | (cp & 0x3F));
        return o + 3;
    }
    o[0] = static_cast<char>(0xF0 | (cp >> 18));
    o[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    o[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    o[3] = static_cast<char>(0x80 | (cp & 0x3F));
    return o + 4;
}

// The raw text between the quotes of a string token ("..." and maybe trailing spaces), or
// false when the token is not a string.
bool string_inner(std::string_view token, std::string_view& inner) {
    if (token.size() < 2 || token[0] != '"') return false;
    size_t end = token.size() - 1;
    while (end > 0 && token[end] != '"')
        --end;
    if (end == 0) return false;
    inner = token.substr(1, end - 1);
    return true;
}

// Whether canonical string content is empty or only spaces, tabs, CRs and LFs (the general
// path's "blank" after unescaping).
bool canonical_blank(std::string_view s) {
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == ' ') continue;
        if (s[i] == '\\' && i + 1 < s.size() &&
            (s[i + 1] == 't' || s[i + 1] == 'r' || s[i + 1] == 'n')) {
            ++i;
            continue;
        }
        return false;
    }
    return true;
}

}  // namespace

namespace {

// Escapes that canonical text keeps as they are.
bool canonical_escape(char e) {
    return e == '"' || e == '\\' || e == 'n' || e == 't' || e == 'r' || e == 'b' || e == 'f';
}

// Whether the backslash at raw[p] starts an escape (rather than being the escaped character of
// the one before it): the first backslash of a run always starts one, so the odd ones do.
bool starts_escape(const char* d, size_t p, size_t from) {
    size_t run = 1;
    while (p >= from + run && d[p - run] == '\\')
        ++run;
    return run % 2 == 1;
}

// The first backslash at or after `from` (which is not inside an escape) that starts anything
// but a canonical escape: \/, \u, an invalid escape, or a backslash ending the text. npos when
// there is none. Where SSE2 is there (every x86-64), sixteen bytes a step: a block needs a
// closer look only when a backslash in it is followed by a character other than " \ n t r b f.
size_t find_rewrite_sse2(std::string_view raw, size_t from) {
    const char* d = raw.data();
    const size_t n = raw.size();
    size_t i = from;
#if defined(__SSE2__)
    const __m128i backslash = _mm_set1_epi8('\\');
    while (i + 17 <= n) {
        // Sixty-four bytes without a backslash (most text) are passed over at once.
        while (i + 65 <= n) {
            const __m128i* q = reinterpret_cast<const __m128i*>(d + i);
            __m128i any =
                _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(_mm_loadu_si128(q), backslash),
                                          _mm_cmpeq_epi8(_mm_loadu_si128(q + 1), backslash)),
                             _mm_or_si128(_mm_cmpeq_epi8(_mm_loadu_si128(q + 2), backslash),
                                          _mm_cmpeq_epi8(_mm_loadu_si128(q + 3), backslash)));
            if (_mm_movemask_epi8(any)) break;
            i += 64;
        }
        if (i + 17 > n) break;
        __m128i here = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + i));
        __m128i next = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + i + 1));
        unsigned bs = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(here, backslash)));
        if (bs) {
            __m128i ok =
                _mm_or_si128(_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(next, _mm_set1_epi8('"')),
                                                       _mm_cmpeq_epi8(next, backslash)),
                                          _mm_or_si128(_mm_cmpeq_epi8(next, _mm_set1_epi8('n')),
                                                       _mm_cmpeq_epi8(next, _mm_set1_epi8('t')))),
                             _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(next, _mm_set1_epi8('r')),
                                                       _mm_cmpeq_epi8(next, _mm_set1_epi8('b'))),
                                          _mm_cmpeq_epi8(next, _mm_set1_epi8('f'))));
            unsigned bad = bs & ~static_cast<unsigned>(_mm_movemask_epi8(ok));
            while (bad) {
                size_t p = i + static_cast<size_t>(__builtin_ctz(bad));
                bad &= bad - 1;
                // A backslash that is itself escaped is followed by plain text.
                if (starts_escape(d, p, from)) return p;
            }
        }
        i += 16;
    }
    // The rest one byte at a time, starting outside any escape.
    if (i > from && d[i - 1] == '\\' && starts_escape(d, i - 1, from)) ++i;
#endif
    for (; i < n; ++i) {
        if (d[i] != '\\') continue;
        if (i + 1 >= n || !canonical_escape(d[i + 1])) return i;
        ++i;
    }
    return std::string_view::npos;
}

#if defined(__x86_64__) && defined(__GNUC__)
// The same scan, thirty-two bytes a step, for CPUs with AVX2 (chosen at run time).
__attribute__((target("avx2,bmi"))) size_t find_rewrite_avx2(std::string_view raw, size_t from) {
    const char* d = raw.data();
    const size_t n = raw.size();
    size_t i = from;
    const __m256i backslash = _mm256_set1_epi8('\\');
    while (i + 33 <= n) {
        while (i + 65 <= n) {
            const __m256i* q = reinterpret_cast<const __m256i*>(d + i);
            __m256i any = _mm256_or_si256(_mm256_cmpeq_epi8(_mm256_loadu_si256(q), backslash),
                                          _mm256_cmpeq_epi8(_mm256_loadu_si256(q + 1), backslash));
            if (_mm256_movemask_epi8(any)) break;
            i += 64;
        }
        if (i + 33 > n) break;
        __m256i here = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(d + i));
        uint32_t bs =
            static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(here, backslash)));
        if (bs) {
            __m256i next = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(d + i + 1));
            __m256i ok = _mm256_cmpeq_epi8(next, backslash);
            for (char c : {'"', 'n', 't', 'r', 'b', 'f'})
                ok = _mm256_or_si256(ok, _mm256_cmpeq_epi8(next, _mm256_set1_epi8(c)));
            uint32_t bad = bs & ~static_cast<uint32_t>(_mm256_movemask_epi8(ok));
            while (bad) {
                size_t p = i + static_cast<size_t>(__builtin_ctz(bad));
                bad &= bad - 1;
                if (starts_escape(d, p, from)) return p;
            }
        }
        i += 32;
    }
    if (i > from && d[i - 1] == '\\' && starts_escape(d, i - 1, from)) ++i;
    // At most 32 bytes are left: the SSE2 scan finishes from a position outside any escape.
    return find_rewrite_sse2(raw, i);
}

// The bytes a canonical escape's backslash may be followed by (" \\ n t r b f), each at its
// own index of a 128-byte table; every other index holds a byte that differs from it.
struct CanonicalFollowers {
    alignas(64) uint8_t at[128] = {};
    constexpr CanonicalFollowers() {
        at[0] = 1;
        for (char c : {'"', '\\', 'n', 't', 'r', 'b', 'f'})
            at[static_cast<unsigned char>(c)] = static_cast<uint8_t>(c);
    }
};
constexpr CanonicalFollowers kFollowers;

// The same scan, sixty-four bytes a step, fused with the copy: raw[from, i) goes to `dst` as
// it is scanned, so the text is read once. Masked loads and stores keep both to raw's end. A
// backslash's follower is looked up in kFollowers (a byte of 0x80 or more finds a byte below
// 0x80 there, never itself), so there is no branch on whether a block holds a backslash.
__attribute__((target("avx512f,avx512bw,avx512vbmi,bmi,bmi2"))) size_t copy_until_rewrite_avx512(
    std::string_view raw, size_t from, char* dst) {
    const char* d = raw.data();
    const size_t n = raw.size();
    const __m512i backslash = _mm512_set1_epi8('\\');
    const __m512i lo = _mm512_load_si512(kFollowers.at), hi = _mm512_load_si512(kFollowers.at + 64);
    for (size_t i = from; i < n; i += 64) {
        const size_t left = n - i;
        const __mmask64 in = left >= 64 ? ~__mmask64(0) : _bzhi_u64(~0ull, unsigned(left));
        // The byte after each one; past raw's end it reads as 0, not a canonical escape.
        const __mmask64 in_next =
            left - 1 >= 64 ? ~__mmask64(0) : _bzhi_u64(~0ull, unsigned(left - 1));
        const __m512i here = _mm512_maskz_loadu_epi8(in, d + i);
        const __m512i next = _mm512_maskz_loadu_epi8(in_next, d + i + 1);
        _mm512_mask_storeu_epi8(dst + (i - from), in, here);
        const __mmask64 bs = _mm512_cmpeq_epi8_mask(here, backslash);
        const __mmask64 ok = _mm512_cmpeq_epi8_mask(_mm512_permutex2var_epi8(lo, next, hi), next);
        for (uint64_t bad = bs & ~ok; bad; bad &= bad - 1) {
            size_t p = i + static_cast<size_t>(__builtin_ctzll(bad));
            if (starts_escape(d, p, from)) return p;
        }
    }
    return n;
}

EscapeScan best_scan() {
    if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vbmi"))
        return EscapeScan::avx512;
    return __builtin_cpu_supports("avx2") ? EscapeScan::avx2 : EscapeScan::sse2;
}
#else
EscapeScan best_scan() {
    return EscapeScan::sse2;
}
#endif

EscapeScan g_scan = best_scan();

// Copies raw[from, i) to `dst` and returns i, the first backslash at or after `from` that
// starts anything but a canonical escape (raw.size() when there is none). `dst` has room for
// raw.size() - from bytes.
size_t copy_until_rewrite(std::string_view raw, size_t from, char* dst) {
    size_t i;
    switch (g_scan) {
#if defined(__x86_64__) && defined(__GNUC__)
        case EscapeScan::avx512:
            return copy_until_rewrite_avx512(raw, from, dst);
        case EscapeScan::avx2:
            i = find_rewrite_avx2(raw, from);
            break;
#endif
        default:
            i = find_rewrite_sse2(raw, from);
    }
    if (i == std::string_view::npos) i = raw.size();
    std::memcpy(dst, raw.data() + from, i - from);
    return i;
}

}  // namespace

EscapeScan use_escape_scan(EscapeScan scan) {
    g_scan = std::min(scan, best_scan());
    return g_scan;
}

char* write_canonical_string(std::string_view raw, char* out) {
    // Canonical escapes (\" \\ \b \f \n \r \t) stay in the runs copied as they are; only \/
    // and \uXXXX are rewritten, each into at most as many bytes as it had.
    size_t from = 0;
    while (true) {
        size_t i = copy_until_rewrite(raw, from, out);
        out += i - from;
        if (i == raw.size()) return out;
        if (i + 1 >= raw.size()) return nullptr;
        if (raw[i + 1] == '/') {
            *out++ = '/';
            from = i + 2;
        } else if (raw[i + 1] == 'u') {
            long cp = hex4(raw, i + 2);
            if (cp < 0) return nullptr;
            from = i + 6;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return nullptr;  // a low surrogate first
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                // A high surrogate must be followed by \u and a low one.
                if (from + 2 > raw.size() || raw[from] != '\\' || raw[from + 1] != 'u')
                    return nullptr;
                long lo = hex4(raw, from + 2);
                if (lo < 0xDC00 || lo > 0xDFFF) return nullptr;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                from += 6;
            }
            out = put_code_point(static_cast<uint32_t>(cp), out);
        } else {
            return nullptr;  // not a JSON escape
        }
    }
}

bool append_canonical_string(std::string_view raw, std::string& out) {
    const size_t at = out.size();
    out.resize(at + raw.size());
    char* end = write_canonical_string(raw, &out[at]);
    if (!end) return false;
    out.resize(static_cast<size_t>(end - out.data()));
    return true;
}

struct ChatFastPath::Impl {
    simdjson::ondemand::parser parser{kFastPathMaxBytes};
    std::vector<MessageFacts> facts;
    std::vector<char> line;  // the canonical line being built; only grows
};

ChatFastPath::ChatFastPath() : impl_(std::make_unique<Impl>()) {}
ChatFastPath::~ChatFastPath() = default;

namespace {

using simdjson::ondemand::array;
using simdjson::ondemand::field;
using simdjson::ondemand::object;
using simdjson::ondemand::value;

// Whether the 4 to 16 bytes at `p` are those of the literal: two overlapping word compares
// (GCC calls memcmp for some of these lengths).
template <size_t N>
bool same_bytes(const char* p, const char (&lit)[N]) {
    constexpr size_t n = N - 1;
    static_assert(n >= 4 && n <= 16, "4 to 16 bytes");
    using Word = std::conditional_t<(n >= 8), uint64_t, uint32_t>;
    constexpr size_t w = sizeof(Word);
    Word a, b, c, d;
    std::memcpy(&a, p, w);
    std::memcpy(&b, lit, w);
    std::memcpy(&c, p + n - w, w);
    std::memcpy(&d, lit + n - w, w);
    return ((a ^ b) | (c ^ d)) == 0;
}

// The known role that canonical text `r` names, or an empty view.
std::string_view known_role(std::string_view r) {
    const char* p = r.data();
    switch (r.size()) {
        case 4:
            if (same_bytes(p, "user")) return "user";
            if (same_bytes(p, "tool")) return "tool";
            break;
        case 6:
            if (same_bytes(p, "system")) return "system";
            break;
        case 8:
            if (same_bytes(p, "function")) return "function";
            break;
        case 9:
            if (same_bytes(p, "assistant")) return "assistant";
            break;
    }
    return {};
}

// The canonical line, written through a cursor into a buffer that grows on demand.
struct LineOut {
    std::vector<char>& buf;
    size_t n = 0;

    // Room for `k` more bytes at the cursor.
    char* room(size_t k) {
        if (n + k > buf.size()) buf.resize(std::max(n + k, 2 * buf.size()));
        return buf.data() + n;
    }
    template <size_t N>
    void put(const char (&lit)[N]) {
        std::memcpy(room(N - 1), lit, N - 1);
        n += N - 1;
    }
    // A string's canonical content (never longer than its raw text); false for a bad escape.
    bool put_string(std::string_view raw) {
        char* end = write_canonical_string(raw, room(raw.size()));
        if (!end) return false;
        n = static_cast<size_t>(end - buf.data());
        return true;
    }
    std::string_view since(size_t at) const { return {buf.data() + at, n - at}; }
};

// One message object into `out`; fills `facts`. False: not for the fast path.
bool message(object& m, LineOut& out, MessageFacts& facts) {
    std::string_view role_raw, content_raw, name_raw;
    int weight = -1;
    unsigned seen = 0;
    for (auto fr : m) {
        field f;
        if (std::move(fr).get(f)) return false;
        // The key's raw text and its closing quote (the padding makes reading past it safe).
        const char* key = f.key().raw();
        int which = same_bytes(key, "role\"")      ? 0
                    : same_bytes(key, "content\"") ? 1
                    : same_bytes(key, "name\"")    ? 2
                    : same_bytes(key, "weight\"")  ? 3
                                                   : -1;
        if (which < 0 || (seen & (1u << which))) return false;  // another key, or a repeat
        seen |= 1u << which;
        value& v = f.value();
        if (which == 3) {
            double d;
            if (v.get_double().get(d) || !(d == 0 || d == 1)) return false;
            weight = d == 1 ? 1 : 0;
            continue;
        }
        std::string_view inner;
        if (!string_inner(v.raw_json_token(), inner)) return false;
        // raw_json_token() only looks; the value must also be consumed, or simdjson skips
        // over it leniently and a stray ':' or ',' after it would go unnoticed.
        simdjson::ondemand::raw_json_string consumed;
        if (v.get_raw_json_string().get(consumed)) return false;
        (which == 0 ? role_raw : which == 1 ? content_raw : name_raw) = inner;
    }
    if ((seen & 3u) != 3u) return false;  // role and content are required
    out.put("{\"role\":\"");
    const size_t role_at = out.n;
    if (!out.put_string(role_raw)) return false;
    facts.role = known_role(out.since(role_at));
    if (facts.role.empty()) return false;
    const bool assistant = facts.role.size() == 9;
    if (weight >= 0 && !assistant) return false;
    out.put("\",\"content\":\"");
    const size_t content_at = out.n;
    if (!out.put_string(content_raw)) return false;
    facts.empty = assistant && canonical_blank(out.since(content_at));
    out.put("\"");
    if (seen & 4u) {
        out.put(",\"name\":\"");
        if (!out.put_string(name_raw)) return false;
        out.put("\"");
    }
    facts.calls = false;
    facts.untrained = weight == 0;
    if (weight == 1) out.put(",\"weight\":1");
    if (weight == 0) out.put(",\"weight\":0");
    out.put("}");
    return true;
}

}  // namespace

bool ChatFastPath::convert(std::string_view text, size_t capacity, std::string& line,
                           std::vector<RecordWarning>& warnings) {
    if (text.size() > kFastPathMaxBytes || capacity < text.size() + kFastPathPadding) return false;
    simdjson::ondemand::document doc;
    if (impl_->parser.iterate(text.data(), text.size(), capacity).get(doc)) return false;
    object top;
    if (doc.get_object().get(top)) return false;
    LineOut out{impl_->line};
    out.put("{\"messages\":[");
    auto& facts = impl_->facts;
    facts.clear();
    bool seen = false;
    for (auto fr : top) {
        field f;
        if (std::move(fr).get(f)) return false;
        if (seen || !same_bytes(f.key().raw(), "messages\"")) return false;
        seen = true;
        array list;
        if (f.value().get_array().get(list)) return false;
        for (auto er : list) {
            object m;
            if (std::move(er).get_object().get(m)) return false;
            if (!facts.empty()) out.put(",");
            facts.emplace_back();
            if (!message(m, out, facts.back())) return false;
        }
        if (facts.empty()) return false;  // an empty list is an error
    }
    // Nothing may follow the object (the iterator is past its end only then).
    if (!seen || doc.current_location().error() != simdjson::OUT_OF_BOUNDS) return false;
    out.put("]}");
    line.assign(out.buf.data(), out.n);
    warnings.clear();
    check_conversation(facts, "", true, warnings);
    return true;
}

}  // namespace llmtune::data
