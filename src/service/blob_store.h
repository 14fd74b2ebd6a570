// Content-addressed blob store: <data-dir>/blobs/sha256/ab/<hash>.
//
// A blob is streamed into a temp file under blobs/tmp/ while its SHA-256 is computed, then
// fsync'ed, renamed to its hash's path and the directory fsync'ed. A crash at any moment
// leaves either no blob or a complete one; leftover temp files are removed at the next start.
// Writing a blob that already exists keeps the existing file (same content, same name).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "service/sha256.h"

namespace llmtune::service {

struct BlobInfo {
    std::string sha256;  // 64 hex digits
    uint64_t size = 0;
};

class BlobWriter {
  public:
    BlobWriter(std::string tmp_path, std::string root);
    ~BlobWriter();  // removes the temp file unless commit() ran
    BlobWriter(const BlobWriter&) = delete;
    BlobWriter& operator=(const BlobWriter&) = delete;

    // io (or resource_exhausted when the disk is full) on failure.
    void write(const void* data, size_t n);
    uint64_t size() const { return size_; }
    // fsync, rename to blobs/sha256/ab/<hash>, fsync the directory.
    BlobInfo commit();

  private:
    std::string tmp_path_;
    std::string root_;
    int fd_ = -1;
    uint64_t size_ = 0;
    Sha256 hash_;
    bool committed_ = false;
};

class BlobStore {
  public:
    // `data_dir` holds blobs/; the directories are created and stale temp files removed.
    explicit BlobStore(const std::string& data_dir);

    std::unique_ptr<BlobWriter> begin() const;
    BlobInfo put(const std::string& data) const;  // begin + write + commit

    // The blob's path; invalid_input for a malformed hash (never a path outside the store).
    std::string path(const std::string& sha256) const;
    bool exists(const std::string& sha256) const;
    // Removes the blob; a missing blob is not an error.
    void remove(const std::string& sha256) const;
    // Bytes of the blob; not_found when it is missing.
    uint64_t size(const std::string& sha256) const;

  private:
    std::string root_;  // <data-dir>/blobs
};

}  // namespace llmtune::service
