// The fast path for OpenAI chat JSONL, the common case: one line straight to its canonical
// line, with simdjson's On-Demand parser and without building any JSON objects.
//
// It takes only records it fully understands: {"messages": [...]} and nothing else at the
// top level, each message an object of role, content (a string), and optionally name (a
// string) and weight (0 or 1, assistant only), each key once. Anything else (another key,
// tools or tool calls, a content list, any error at all) returns false, and the caller runs
// the general path (parse_record_text + convert_record), which names the problem. So the fast
// path never decides that a record is invalid, and for every record it accepts it writes the
// same bytes and the same warnings as the general path; tests/unit/data/chat_fast_path_test and
// tests/fuzz/chat_fast_path_fuzz check exactly that.
//
// Strings are copied from the input as they are unless they hold a backslash; escapes are then
// rewritten into the canonical form (canonical_record.h: \" \\ \b \f \n \r \t, other control
// characters as \u00xx, everything else as UTF-8). simdjson checks the UTF-8 and unescaped
// control characters of the whole line before anything is read.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "data/convert.h"

namespace llmtune::data {

// Bytes simdjson may read past the end of a line (they must be allocated, of any value).
constexpr size_t kFastPathPadding = 64;
// Longer lines take the general path, so the parser's buffers stay small.
constexpr size_t kFastPathMaxBytes = size_t(1) << 20;

class ChatFastPath {
  public:
    ChatFastPath();
    ~ChatFastPath();
    ChatFastPath(const ChatFastPath&) = delete;
    ChatFastPath& operator=(const ChatFastPath&) = delete;

    // Converts one JSONL line. `capacity` is the bytes allocated from text.data() on (at least
    // text.size() + kFastPathPadding). On true, `line` holds the canonical line and `warnings`
    // the record's warnings (line numbers left 0); on false both are unspecified.
    bool convert(std::string_view text, size_t capacity, std::string& line,
                 std::vector<RecordWarning>& warnings);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Appends the canonical JSON form of a JSON string given by its raw text between the quotes
// (which must be valid UTF-8 without raw control characters). False for an invalid escape or a
// lone surrogate, which the general path reports.
bool append_canonical_string(std::string_view raw, std::string& out);
// The same written at `out`, which has room for raw.size() bytes (the canonical form is never
// longer); returns its end, or nullptr where append_canonical_string returns false.
char* write_canonical_string(std::string_view raw, char* out);

// The vector code that checks strings for escapes to rewrite: the CPU's best by default.
enum class EscapeScan { sse2, avx2, avx512 };
// Uses `scan`, or the best the CPU has if that is less (for tests of every variant); returns the
// one in use. Not thread-safe: call it before converting.
EscapeScan use_escape_scan(EscapeScan scan);

}  // namespace llmtune::data
