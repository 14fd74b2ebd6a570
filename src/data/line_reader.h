// LineReader: the lines of a (possibly compressed) file, one at a time, in bounded memory.
//
// Lines end at "\n"; a "\r" before it is dropped, so CRLF files read like LF files. A line
// longer than max_line_bytes is an invalid_input error naming the file and line number, raised
// as soon as the limit is passed: the rest of that line is never held in memory.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "data/decompress.h"

namespace llmtune::data {

constexpr size_t kDefaultMaxLineBytes = size_t(64) << 20;  // 64 MiB

class LineReader {
  public:
    explicit LineReader(const std::string& path, size_t max_line_bytes = kDefaultMaxLineBytes);

    // The next line without its terminator; false at the end of the file.
    bool next(std::string& line);
    // The next line as a view: into the read buffer when the whole line is there with at
    // least `padding` bytes allocated after it, else assembled in `scratch` (with that much
    // capacity to spare). Valid until the next call; `capacity` is the bytes allocated from
    // line.data() on. Saves copying each line for parsers that read past its end.
    bool next_view(std::string_view& line, size_t& capacity, std::string& scratch, size_t padding);
    // 1-based number of the line next() returned last.
    uint64_t line_number() const { return line_; }

    InputFile& input() { return *in_; }
    const InputFile& input() const { return *in_; }

  private:
    std::unique_ptr<InputFile> in_;
    size_t max_line_bytes_;
    uint64_t line_ = 0;
};

// "64 MiB", "3.2 KiB": a byte count for messages.
std::string format_bytes(uint64_t n);

}  // namespace llmtune::data
