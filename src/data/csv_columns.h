// CSV and TSV files as records: the header names the columns, and each column maps to a field
// of a record shape (prompt, completion, instruction, input, output, text, system, chosen,
// rejected).
//
// The mapping is detected from common header names (case-insensitive):
//   instruction + output [+ input] [+ system]   -> Alpaca
//   prompt + chosen + rejected [+ system]        -> preference
//   prompt|question + completion|answer|response -> prompt/completion (+ system)
//   input + output                               -> prompt/completion (+ system)
//   text                                         -> text
// or given as --columns field=column,... Headers that fit two shapes, or none, are errors
// saying how to choose. Columns that map to nothing are reported, never silently used.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "data/csv_reader.h"
#include "data/record_error.h"

namespace llmtune::data {

struct ColumnMapping {
    std::vector<std::pair<std::string, size_t>> fields;  // field -> column index
    std::vector<std::string> unused;                     // header names mapped to nothing
    // "prompt=question,completion=answer"
    std::string describe(const std::vector<std::string>& header) const;
};

// From a --columns value such as "prompt=q,completion=a"; invalid_input for an unknown field,
// a column not in the header, or a repeated field.
ColumnMapping parse_column_spec(const std::string& spec, const std::vector<std::string>& header,
                                const std::string& path);
// From the header names; invalid_input when they fit no shape or two.
ColumnMapping detect_columns(const std::vector<std::string>& header, const std::string& path);

class CsvRecordSource : public RecordSource {
  public:
    // Reads the header row at once (an empty file or a header with invalid UTF-8 is
    // invalid_input). `columns` is a --columns value or "" to detect.
    CsvRecordSource(const std::string& path, char delimiter, const std::string& columns,
                    size_t max_row_bytes = kDefaultMaxLineBytes);
    bool next(SourceRecord& out) override;
    uint64_t bytes_read() const override { return reader_.bytes_read(); }

    const std::vector<std::string>& header() const { return header_; }
    const ColumnMapping& mapping() const { return mapping_; }

  private:
    CsvReader reader_;
    std::vector<std::string> header_;
    ColumnMapping mapping_;
    CsvRow row_;
};

}  // namespace llmtune::data
