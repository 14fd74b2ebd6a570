// JSONL records: one JSON object per line, read in bounded memory.
//
// Each line is checked on its own: invalid UTF-8, invalid JSON, nesting deeper than
// kMaxJsonDepth and a value that is not an object become per-record errors (so
// --skip-invalid can drop them) carrying the line, the column and a snippet. Blank lines are
// skipped.
#pragma once

#include <memory>
#include <string>

#include "data/line_reader.h"
#include "data/record_error.h"

namespace llmtune::data {

constexpr int kMaxJsonDepth = 64;

// Parses one record's text. Fills out.value, or out.error (code invalid_utf8, invalid_json,
// too_deep or not_an_object). `line` numbers the first line of `text`.
void parse_record_text(std::string_view text, uint64_t line, SourceRecord& out);

class JsonlReader : public RecordSource {
  public:
    explicit JsonlReader(const std::string& path, size_t max_line_bytes = kDefaultMaxLineBytes);
    bool next(SourceRecord& out) override;
    uint64_t bytes_read() const override { return lines_.input().raw_bytes_read(); }

    // The next record's text without parsing it (blank lines skipped, a BOM on line 1
    // removed), for ChatFastPath. `text` stays valid until the next call and has `capacity`
    // bytes allocated from text.data() on, at least text.size() + kFastPathPadding. False at
    // the end.
    bool next_text(std::string_view& text, size_t& capacity, uint64_t& line);

  private:
    LineReader lines_;
    std::string line_;
};

}  // namespace llmtune::data
