#include "tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>

#include "common/error.h"
#include "tokenizer/json_path.h"
#include "tokenizer/unicode_text.h"

namespace llmtune::tokenizer {

namespace {

std::string pcre2_message(int code) {
    PCRE2_UCHAR buf[256];
    int n = pcre2_get_error_message(code, buf, sizeof buf);
    return n < 0 ? "error " + std::to_string(code) : std::string(reinterpret_cast<char*>(buf));
}

pcre2_code* compile(const std::string& pattern, uint32_t options, int* err, PCRE2_SIZE* offset) {
    return pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, err,
                         offset, nullptr);
}

// Frees a JIT stack and match context made for one oversized search.
struct BigJitStack {
    pcre2_jit_stack* stack = nullptr;
    pcre2_match_context* context = nullptr;
    BigJitStack() {
        stack = pcre2_jit_stack_create(64 * 1024, 256 * 1024 * 1024, nullptr);
        context = pcre2_match_context_create(nullptr);
        if (stack && context) pcre2_jit_stack_assign(context, nullptr, stack);
    }
    ~BigJitStack() {
        if (context) pcre2_match_context_free(context);
        if (stack) pcre2_jit_stack_free(stack);
    }
};

struct MatchData {
    pcre2_match_data* md;
    MatchData() : md(pcre2_match_data_create(1, nullptr)) {}
    ~MatchData() { pcre2_match_data_free(md); }
};

}  // namespace

struct Regex::Impl {
    pcre2_code* code = nullptr;            // for valid UTF-8 subjects
    pcre2_code* raw_bytes_code = nullptr;  // PCRE2_MATCH_INVALID_UTF, for arbitrary bytes
    ~Impl() {
        if (code) pcre2_code_free(code);
        if (raw_bytes_code) pcre2_code_free(raw_bytes_code);
    }
};

Regex::Regex(const std::string& pattern, bool literal, const JsonPath& where)
    : pattern_(pattern), impl_(std::make_unique<Impl>()) {
    // PCRE2_LITERAL rejects PCRE2_UCP, which a literal does not need.
    uint32_t options = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
    int err = 0;
    PCRE2_SIZE offset = 0;
    impl_->code = compile(pattern, options, &err, &offset);
    if (!impl_->code)
        where.fail("the regular expression does not compile: " + pcre2_message(err) +
                       " at offset " + std::to_string(offset),
                   "llmtune compiles tokenizer patterns with PCRE2; Oniguruma-only syntax is not "
                   "supported");
    // JIT is an optimisation: where it is unavailable pcre2_match interprets the pattern.
    pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE);
    impl_->raw_bytes_code = compile(pattern, options | PCRE2_MATCH_INVALID_UTF, &err, &offset);
    if (impl_->raw_bytes_code) pcre2_jit_compile(impl_->raw_bytes_code, PCRE2_JIT_COMPLETE);
}

Regex::~Regex() = default;

void Regex::find_all(std::string_view subject, std::vector<RegexMatch>& out,
                     bool checked_utf8) const {
    const pcre2_code* code = impl_->code;
    uint32_t options = PCRE2_NO_UTF_CHECK;
    if (!checked_utf8 && find_invalid_utf8(subject) != std::string_view::npos) {
        LLMTUNE_ASSERT(impl_->raw_bytes_code != nullptr, "pattern compiled twice");
        code = impl_->raw_bytes_code;
        options = 0;
    }
    MatchData data;
    std::unique_ptr<BigJitStack> big;  // made only if the default JIT stack is too small
    auto b = reinterpret_cast<PCRE2_SPTR>(subject.data());
    size_t n = subject.size();
    size_t last_end = 0;
    bool have_last = false;
    size_t last_match = 0;
    while (last_end <= n) {
        int rc = pcre2_match(code, b, n, last_end, options, data.md, big ? big->context : nullptr);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT && !big) {
            big = std::make_unique<BigJitStack>();
            continue;
        }
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0)
            throw Error(ErrorKind::resource_exhausted,
                        "regular expression /" + pattern_ + "/ failed: " + pcre2_message(rc),
                        "the text may be too long or pathological for this tokenizer pattern");
        PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data.md);
        size_t s = ov[0], e = ov[1];
        if (s == e) {
            // An empty match: resume one character later, and drop it if it touches the
            // previous match.
            size_t step = 1;  // raw bytes: one byte at a time
            if (e < n && code == impl_->code)
                step = utf8_length(static_cast<unsigned char>(subject[e]));
            last_end = e < n ? std::min(e + step, n) : n + 1;
            if (have_last && last_match == e) continue;
        } else {
            last_end = e;
        }
        have_last = true;
        last_match = e;
        out.push_back({s, e});
    }
}

}  // namespace llmtune::tokenizer
