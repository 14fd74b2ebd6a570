// RecordError and SourceRecord: what the readers hand to the converter.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/json_file.h"

namespace llmtune::data {

// One problem with one record.
struct RecordError {
    uint64_t line = 0;    // 1-based line where the record starts; 0 when not line-based
    std::string path;     // JSON path inside the record ("$.messages[2].content"), or a column
    std::string code;     // a stable reason: invalid_json, invalid_utf8, not_an_object, ...
    std::string message;  // what is wrong, for people
    std::string snippet;  // the offending text, cut short
};

// One record as read from the file, before conversion.
struct SourceRecord {
    uint64_t line = 0;     // 1-based line where the record starts
    std::string location;  // where it is in the file, e.g. "$[3]" in a JSON array; may be ""
    std::string text;      // the raw text, cut short (for snippets)
    json value;            // the parsed record; an object when `error` is empty
    std::optional<RecordError> error;  // the record could not be read
    // For CSV rows: the column each top-level field came from, so errors name columns.
    std::vector<std::pair<std::string, std::string>> field_columns;
};

// A streaming source of records (JSONL lines, JSON array elements, CSV rows, text chunks).
class RecordSource {
  public:
    virtual ~RecordSource() = default;
    // The next record; false at the end. Fatal problems (a file that cannot be read at all, a
    // line over the length limit, broken JSON array structure) throw llmtune::Error.
    virtual bool next(SourceRecord& out) = 0;
    // Bytes of the file consumed so far and its size, for progress.
    virtual uint64_t bytes_read() const = 0;
};

// `s` cut to at most `max_bytes` at a UTF-8 boundary, with "..." when cut; invalid UTF-8 is
// replaced with U+FFFD so the snippet is printable.
std::string make_snippet(std::string_view s, size_t max_bytes = 120);

}  // namespace llmtune::data
