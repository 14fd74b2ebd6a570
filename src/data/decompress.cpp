#include "data/decompress.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>

#include "common/error.h"

namespace llmtune::data {

namespace {

constexpr size_t kBufferBytes = 1 << 20;

const char* kFormatsHint =
    "llmtune reads JSONL, JSON, CSV, TSV and text files, plain or compressed with gzip or zstd";

}  // namespace

const char* compression_name(Compression c) {
    switch (c) {
        case Compression::none:
            return "none";
        case Compression::gzip:
            return "gzip";
        case Compression::zstd:
            return "zstd";
    }
    return "none";
}

Compression detect_compression(std::string_view head, const std::string& path) {
    auto starts = [&](std::string_view magic) { return head.substr(0, magic.size()) == magic; };
    if (starts("\x1f\x8b")) return Compression::gzip;
    if (starts(std::string_view("\x28\xb5\x2f\xfd", 4))) return Compression::zstd;
    if (starts(std::string_view("PK\x03\x04", 4)))
        throw_invalid(path + ": is a zip archive", std::string("unzip it first; ") + kFormatsHint);
    if (starts(std::string_view("\xfd"
                                "7zXZ",
                                5)))
        throw_invalid(path + ": is xz-compressed",
                      std::string("decompress it with `xz -d` first; ") + kFormatsHint);
    if (starts("BZh"))
        throw_invalid(path + ": is bzip2-compressed",
                      std::string("decompress it with `bunzip2` first; ") + kFormatsHint);
    return Compression::none;
}

// One step of decompression: consumes from `in`, produces into `out`.
class Decompressor {
  public:
    virtual ~Decompressor() = default;
    // Returns the bytes written; *in_used the bytes consumed.
    virtual size_t run(const char* in, size_t in_n, size_t* in_used, char* out, size_t out_n) = 0;
    // True when the input so far ends on a complete stream (not truncated).
    virtual bool complete() const = 0;
};

namespace {

class GzipDecompressor : public Decompressor {
  public:
    explicit GzipDecompressor(std::string path) : path_(std::move(path)) {
        std::memset(&z_, 0, sizeof z_);
        if (inflateInit2(&z_, 15 + 16) != Z_OK) throw_io(path_ + ": cannot start zlib");
    }
    ~GzipDecompressor() override { inflateEnd(&z_); }

    size_t run(const char* in, size_t in_n, size_t* in_used, char* out, size_t out_n) override {
        z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in));
        z_.avail_in = static_cast<uInt>(in_n);
        z_.next_out = reinterpret_cast<Bytef*>(out);
        z_.avail_out = static_cast<uInt>(out_n);
        while (z_.avail_out > 0) {
            if (ended_) {
                if (z_.avail_in == 0) break;
                // Concatenated gzip members (as `cat a.gz b.gz` makes) continue the stream.
                inflateReset(&z_);
                ended_ = false;
            }
            int rc = inflate(&z_, Z_NO_FLUSH);
            if (rc == Z_STREAM_END) {
                ended_ = true;
                continue;
            }
            if (rc == Z_BUF_ERROR) break;  // no progress possible: needs input or output space
            if (rc != Z_OK)
                throw_invalid(path_ + ": corrupt gzip data after " + std::to_string(z_.total_in) +
                                  " compressed bytes (" + (z_.msg ? z_.msg : "inflate failed") +
                                  ")",
                              "check the download; `gzip -t FILE` tests the file");
            if (z_.avail_in == 0) break;
        }
        *in_used = in_n - z_.avail_in;
        return out_n - z_.avail_out;
    }
    bool complete() const override { return ended_; }

  private:
    std::string path_;
    z_stream z_;
    bool ended_ = false;
};

class ZstdDecompressor : public Decompressor {
  public:
    explicit ZstdDecompressor(std::string path) : path_(std::move(path)), d_(ZSTD_createDCtx()) {
        if (!d_) throw_io(path_ + ": cannot start zstd");
        // Bound the window (128 MiB) so a hostile frame cannot ask for gigabytes.
        ZSTD_DCtx_setParameter(d_, ZSTD_d_windowLogMax, 27);
    }
    ~ZstdDecompressor() override { ZSTD_freeDCtx(d_); }

    size_t run(const char* in, size_t in_n, size_t* in_used, char* out, size_t out_n) override {
        ZSTD_inBuffer ib{in, in_n, 0};
        ZSTD_outBuffer ob{out, out_n, 0};
        while (ib.pos < ib.size && ob.pos < ob.size) {
            size_t rc = ZSTD_decompressStream(d_, &ob, &ib);
            if (ZSTD_isError(rc))
                throw_invalid(path_ + ": corrupt zstd data (" + ZSTD_getErrorName(rc) + ")",
                              "check the download; `zstd -t FILE` tests the file");
            frame_done_ = rc == 0;
        }
        // Flush what the decoder still holds even when no input is left.
        if (ib.pos == ib.size && ob.pos < ob.size && !frame_done_) {
            size_t rc = ZSTD_decompressStream(d_, &ob, &ib);
            if (ZSTD_isError(rc))
                throw_invalid(path_ + ": corrupt zstd data (" + ZSTD_getErrorName(rc) + ")",
                              "check the download; `zstd -t FILE` tests the file");
            frame_done_ = rc == 0;
        }
        *in_used = ib.pos;
        return ob.pos;
    }
    bool complete() const override { return frame_done_; }

  private:
    std::string path_;
    ZSTD_DCtx* d_;
    bool frame_done_ = false;
};

}  // namespace

InputFile::InputFile(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
        int err = errno;
        if (err == ENOENT)
            throw Error(ErrorKind::not_found, path + ": no such file",
                        "check the path; relative paths are taken from the current directory");
        throw_io(path + ": cannot open: " + errno_text(err));
    }
    struct stat st;
    if (::fstat(fd_, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            ::close(fd_);
            fd_ = -1;
            throw_invalid(path + ": is a directory", "give a data file");
        }
        file_size_ = static_cast<uint64_t>(st.st_size);
    }
    buf_.resize(kBufferBytes);
    raw_.resize(kBufferBytes);
    raw_end_ = read_raw(raw_.data(), raw_.size());
    compression_ = detect_compression(std::string_view(raw_.data(), raw_end_), path_);
    if (compression_ == Compression::gzip)
        decompressor_ = std::make_unique<GzipDecompressor>(path_);
    if (compression_ == Compression::zstd)
        decompressor_ = std::make_unique<ZstdDecompressor>(path_);
    if (compression_ == Compression::none) {
        // The first read already holds plain data: hand it over as decompressed bytes.
        std::swap(buf_, raw_);
        end_ = raw_end_;
        raw_end_ = 0;
    }
}

InputFile::~InputFile() {
    if (fd_ >= 0) ::close(fd_);
}

size_t InputFile::read_raw(char* out, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = ::read(fd_, out + got, n - got);
        if (r < 0) {
            if (errno == EINTR) continue;
            throw_io(path_ + ": read failed: " + errno_text(errno));
        }
        if (r == 0) {
            raw_eof_ = true;
            break;
        }
        got += static_cast<size_t>(r);
    }
    raw_read_ += got;
    return got;
}

bool InputFile::refill() {
    // Keep the unconsumed bytes at the front; grow only when nothing was consumed.
    if (pos_ > 0) {
        std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
        end_ -= pos_;
        pos_ = 0;
    }
    if (end_ == buf_.size()) buf_.resize(buf_.size() * 2);
    if (!decompressor_) {
        if (raw_eof_) return false;
        size_t got = read_raw(buf_.data() + end_, buf_.size() - end_);
        end_ += got;
        return got > 0;
    }
    while (true) {
        if (raw_pos_ == raw_end_ && !raw_eof_) {
            raw_pos_ = 0;
            raw_end_ = read_raw(raw_.data(), raw_.size());
        }
        size_t used = 0;
        size_t made = decompressor_->run(raw_.data() + raw_pos_, raw_end_ - raw_pos_, &used,
                                         buf_.data() + end_, buf_.size() - end_);
        raw_pos_ += used;
        end_ += made;
        if (made > 0) return true;
        if (raw_pos_ == raw_end_ && raw_eof_) {
            if (!decompressor_->complete())
                throw_invalid(path_ + ": the " + compression_name(compression_) +
                                  " data ends early (the file is truncated)",
                              "download or copy the file again");
            return false;
        }
        if (used == 0 && raw_pos_ < raw_end_)
            throw_invalid(
                path_ + ": corrupt " + std::string(compression_name(compression_)) + " data",
                "check the file");
    }
}

}  // namespace llmtune::data
