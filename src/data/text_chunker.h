// TextChunker: a plain-text file cut into {"text": ...} records for continued pretraining.
//
// Chunks hold about chunk_bytes bytes. A chunk ends at the last paragraph break (a blank line)
// inside the limit, else at the last whitespace, else at a UTF-8 character boundary, so words
// and characters are never split when avoidable. Chunks are trimmed; whitespace-only ones are
// dropped. A chunk holding invalid UTF-8 is a record error naming its line.
#pragma once

#include <string>

#include "data/line_reader.h"
#include "data/record_error.h"

namespace llmtune::data {

constexpr size_t kDefaultChunkBytes = 4096;

class TextChunker : public RecordSource {
  public:
    explicit TextChunker(const std::string& path, size_t chunk_bytes = kDefaultChunkBytes,
                         size_t max_line_bytes = kDefaultMaxLineBytes);
    bool next(SourceRecord& out) override;
    uint64_t bytes_read() const override { return lines_.input().raw_bytes_read(); }

  private:
    bool emit(size_t cut, SourceRecord& out);

    LineReader lines_;
    size_t chunk_bytes_;
    std::string pending_, line_;
    uint64_t pending_line_ = 1;
    size_t last_break_ = 0;  // offset in pending_ just after the last blank line
    bool eof_ = false;
};

}  // namespace llmtune::data
