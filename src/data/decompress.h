// InputFile: a dataset file read as a stream of bytes, decompressed on the fly.
//
// The compression is detected from the first bytes (gzip: 1f 8b, zstd: 28 b5 2f fd), never
// from the file name, so a renamed file still reads. Other archive formats (zip, xz, bzip2)
// are recognised only to say so in the error. Memory is bounded by the read buffer (1 MiB of
// decompressed data) plus the decompressor's window, whatever the file size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace llmtune::data {

enum class Compression { none, gzip, zstd };

const char* compression_name(Compression c);

// The compression a file starting with `head` uses. Throws invalid_input naming `path` for a
// zip, xz or bzip2 file (formats llmtune does not read).
Compression detect_compression(std::string_view head, const std::string& path);

class Decompressor;

class InputFile {
  public:
    // Opens `path`; not_found when it does not exist, io when it cannot be read.
    explicit InputFile(const std::string& path);
    ~InputFile();
    InputFile(const InputFile&) = delete;
    InputFile& operator=(const InputFile&) = delete;

    const std::string& path() const { return path_; }
    Compression compression() const { return compression_; }
    uint64_t file_size() const { return file_size_; }
    // Bytes of the (possibly compressed) file consumed so far, for progress bars.
    uint64_t raw_bytes_read() const { return raw_read_; }

    // The decompressed bytes buffered and not yet consumed.
    std::string_view buffered() const { return {buf_.data() + pos_, end_ - pos_}; }
    void consume(size_t n) { pos_ += n; }
    // Bytes allocated in the buffer from `p` (a pointer into buffered()) on.
    size_t allocated_from(const char* p) const {
        return static_cast<size_t>(buf_.data() + buf_.size() - p);
    }
    // Reads more decompressed bytes, keeping the unconsumed ones. Returns false at the end of
    // the file (nothing was added). Corrupt compressed data is invalid_input.
    bool refill();

    // One decompressed byte, or -1 at the end.
    int get() {
        if (pos_ == end_ && !refill()) return -1;
        return static_cast<unsigned char>(buf_[pos_++]);
    }
    int peek() {
        if (pos_ == end_ && !refill()) return -1;
        return static_cast<unsigned char>(buf_[pos_]);
    }

  private:
    size_t read_raw(char* out, size_t n);

    std::string path_;
    int fd_ = -1;
    Compression compression_ = Compression::none;
    uint64_t file_size_ = 0, raw_read_ = 0;
    std::string buf_;  // decompressed data; [pos_, end_) is unconsumed
    size_t pos_ = 0, end_ = 0;
    std::unique_ptr<Decompressor> decompressor_;
    std::string raw_;  // compressed input buffer, [raw_pos_, raw_end_) not yet decompressed
    size_t raw_pos_ = 0, raw_end_ = 0;
    bool raw_eof_ = false;
};

}  // namespace llmtune::data
