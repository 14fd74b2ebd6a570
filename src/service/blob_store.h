// Blob stores: content-addressed bytes named by their SHA-256 (uploads and artifacts).
//
// BlobStore is the interface; LocalBlobStore keeps blobs under <data-dir>/blobs/sha256/ab/<hash>
// and S3BlobStore (s3_blob_store.h) in an S3 bucket under <prefix>/blobs/sha256/ab/<hash>.
//
// Local: a blob is streamed into a temp file under blobs/tmp/ while its SHA-256 is computed,
// then fsync'ed, renamed to its hash's path and the directory fsync'ed. A crash at any moment
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
    virtual ~BlobWriter();  // removes the temp file unless commit() ran
    BlobWriter(const BlobWriter&) = delete;
    BlobWriter& operator=(const BlobWriter&) = delete;

    // io (or resource_exhausted when the disk is full) on failure.
    void write(const void* data, size_t n);
    uint64_t size() const { return size_; }
    // fsync, rename to blobs/sha256/ab/<hash>, fsync the directory. A remote store's writer
    // then uploads the blob (see S3BlobStore).
    virtual BlobInfo commit();

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
    virtual ~BlobStore() = default;

    // A writer for a new blob: write() the bytes, commit() names and stores them.
    virtual std::unique_ptr<BlobWriter> begin() const = 0;
    BlobInfo put(const std::string& data) const;  // begin + write + commit

    // A local file holding the blob's bytes, for readers that need a path (the dataset
    // library, file downloads, training data links). Local: the blob itself (the path is
    // computed, the blob need not exist). Remote: a verified cached copy, downloaded on first
    // use (not_found when the blob is missing). invalid_input for a malformed hash (never a
    // path outside the store).
    virtual std::string path(const std::string& sha256) const = 0;
    virtual bool exists(const std::string& sha256) const = 0;
    // Removes the blob; a missing blob is not an error.
    virtual void remove(const std::string& sha256) const = 0;
    // Bytes of the blob; not_found when it is missing.
    virtual uint64_t size(const std::string& sha256) const = 0;
    // Where the blobs are, for logs and messages: a directory or s3://bucket/prefix.
    virtual std::string location() const = 0;
};

class LocalBlobStore : public BlobStore {
  public:
    // `data_dir` holds blobs/; the directories are created and stale temp files removed.
    explicit LocalBlobStore(const std::string& data_dir);

    std::unique_ptr<BlobWriter> begin() const override;
    std::string path(const std::string& sha256) const override;
    bool exists(const std::string& sha256) const override;
    void remove(const std::string& sha256) const override;
    uint64_t size(const std::string& sha256) const override;
    std::string location() const override { return root_; }

    // A temp file name under blobs/tmp/ (removed at the next start if left behind).
    std::string temp_path() const;
    const std::string& root() const { return root_; }

  private:
    std::string root_;  // <data-dir>/blobs
};

}  // namespace llmtune::service
