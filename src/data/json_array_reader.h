// JSON documents holding records: a top-level array of records, or an object holding one
// array of records ({"data": [...]}, other members being metadata).
//
// The document is streamed: each element of the array is collected and parsed on its own, so
// memory is bounded by the largest element (at most max_record_bytes), not the file. Element
// problems (invalid JSON, not an object, ...) are per-record errors whose location is the
// element's JSON path ("$[3]", "$.data[3]"); a broken document structure (a missing comma,
// text after the end, a second array) is fatal, naming the line.
#pragma once

#include <memory>
#include <string>

#include "data/decompress.h"
#include "data/line_reader.h"
#include "data/record_error.h"

namespace llmtune::data {

class JsonArrayReader : public RecordSource {
  public:
    explicit JsonArrayReader(const std::string& path,
                             size_t max_record_bytes = kDefaultMaxLineBytes);
    bool next(SourceRecord& out) override;
    uint64_t bytes_read() const override { return in_->raw_bytes_read(); }

  private:
    void start();
    void finish();
    int skip_ws();  // peeks the next non-whitespace byte (-1 at the end)
    void collect_value(std::string& out, const std::string& what);
    int take();  // consumes one byte, counting lines
    [[noreturn]] void fail(const std::string& message);

    std::unique_ptr<InputFile> in_;
    size_t max_record_bytes_;
    uint64_t line_ = 1;
    bool started_ = false, done_ = false, in_object_ = false;
    size_t index_ = 0;
    std::string base_path_ = "$", array_key_;
    std::string scratch_;
};

}  // namespace llmtune::data
