// S3BlobStore: blobs in an S3 bucket (AWS S3, MinIO, Ceph RGW) under
// <prefix>/blobs/sha256/ab/<hash>, the local store's layout below the prefix.
//
// Writing. A blob's name is the SHA-256 of its bytes, known only after the last byte. The
// writer therefore stages the bytes in a local temp file while hashing (the local store's
// writer, in <data-dir>/blobs/tmp/), commits it into the local cache, and then uploads the
// file under its final key (skipped when that key already holds as many bytes: same name,
// same content). Staging locally rather than uploading to a temp key and copying because:
//   - S3 has no rename: a copy rewrites the object server-side, twice the writes, and a
//     single CopyObject stops at 5 GB (larger needs UploadPartCopy per part);
//   - an upload from a file can retry a failed part by re-reading it, which a one-pass stream
//     of an HTTP upload cannot;
//   - the uploads that follow (file processing reads the blob at once) find it cached.
// The cost is local disk for the staged blob. A failed upload throws from commit() and removes
// the cached copy, so the cache only holds blobs that are in the bucket (or are being read).
//
// Reading. path() returns the cached copy, downloading it on first use into a temp file,
// checking that its SHA-256 equals its name, and renaming it into the cache. exists(), size()
// and remove() ask the bucket. The cache is never trimmed: it grows to the blobs this server
// wrote or read (at most what the local store would hold); delete <data-dir>/blobs/sha256 to
// drop it while the server is stopped.
//
// Threads: every call makes its own S3Client, so the store can be used from any thread.
#pragma once

#include "cloud/s3_client.h"
#include "service/blob_store.h"

namespace llmtune::service {

class S3BlobStore : public BlobStore {
  public:
    // Checks at once that the bucket can be listed under the prefix (wrong credentials,
    // region or bucket fail here, at start-up, with the S3 client's precise error).
    S3BlobStore(cloud::S3Config s3, cloud::S3Location where, const std::string& data_dir);

    std::unique_ptr<BlobWriter> begin() const override;
    std::string path(const std::string& sha256) const override;
    bool exists(const std::string& sha256) const override;
    void remove(const std::string& sha256) const override;
    uint64_t size(const std::string& sha256) const override;
    std::string location() const override;

    // The object key of a blob: <prefix>/blobs/sha256/ab/<hash>.
    std::string key(const std::string& sha256) const;
    // Uploads a committed cached blob unless the bucket holds it already (used by the writer).
    void upload(const BlobInfo& blob) const;
    // Where the cached copy of a blob is (whether or not it is there).
    std::string cache_path(const std::string& sha256) const { return cache_.path(sha256); }

  private:
    cloud::S3Config s3_;
    cloud::S3Location where_;
    LocalBlobStore cache_;  // <data-dir>/blobs: staging (tmp/) and cached copies (sha256/)
};

}  // namespace llmtune::service
