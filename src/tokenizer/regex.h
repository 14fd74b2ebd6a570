// Regex: a compiled PCRE2 pattern (UTF, UCP, JIT) for the tokenizer's Split pre-tokenizer and
// Replace normalizer/decoder. The patterns in tokenizer.json files are written for Oniguruma,
// which Hugging Face tokenizers uses; PCRE2 accepts the same syntax for everything these files
// use ((?i:...), \p{L}, \p{N}, lookahead, possessive and counted repeats).
//
// Thread safety: a Regex is immutable after construction; find_all may be called from many
// threads at once (each call uses its own match data).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmtune::tokenizer {

class JsonPath;

struct RegexMatch {
    size_t start, end;  // byte offsets into the subject
};

class Regex {
  public:
    // Compiles `pattern`; on failure throws invalid_input naming `where` (file and JSON path),
    // the PCRE2 message and the offset in the pattern. `literal` escapes the whole pattern.
    Regex(const std::string& pattern, bool literal, const JsonPath& where);
    ~Regex();
    Regex(const Regex&) = delete;
    Regex& operator=(const Regex&) = delete;

    // All non-overlapping matches, left to right, as Oniguruma's find_iter reports them:
    // an empty match directly after the previous match is skipped by advancing one character.
    // `subject` must be valid UTF-8 unless the subject may hold arbitrary bytes, in which
    // case pass `checked_utf8 = false` (used by decoders working on raw bytes).
    void find_all(std::string_view subject, std::vector<RegexMatch>& out,
                  bool checked_utf8 = true) const;

    const std::string& pattern() const { return pattern_; }

  private:
    struct Impl;
    std::string pattern_;
    std::unique_ptr<Impl> impl_;
};

}  // namespace llmtune::tokenizer
