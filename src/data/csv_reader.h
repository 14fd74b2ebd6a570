// CsvReader: RFC 4180 rows from a CSV or TSV file, streamed in bounded memory.
//
// Fields may be quoted with '"' (a quote inside is written twice) and then hold delimiters,
// quotes and newlines. Rows end with LF or CRLF; blank lines are skipped; a UTF-8 BOM at the
// start is dropped. A quote inside an unquoted field, or text after a closing quote, is an
// error of that row (the rest of its line is skipped). A quoted field still open at the end of
// the file, or a row over max_row_bytes, is fatal, naming the line where it started.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/decompress.h"
#include "data/line_reader.h"

namespace llmtune::data {

struct CsvRow {
    std::vector<std::string> fields;
    uint64_t line = 0;  // 1-based line where the row starts
    std::string error;  // set when the row is malformed
};

class CsvReader {
  public:
    CsvReader(const std::string& path, char delimiter, size_t max_row_bytes = kDefaultMaxLineBytes);
    // The next row; false at the end of the file.
    bool next(CsvRow& row);
    uint64_t bytes_read() const { return in_->raw_bytes_read(); }
    const std::string& path() const { return in_->path(); }

  private:
    int take();
    void skip_rest_of_line();

    std::unique_ptr<InputFile> in_;
    char delimiter_;
    size_t max_row_bytes_;
    uint64_t line_ = 1;
    bool started_ = false;
};

}  // namespace llmtune::data
