// S3Client: the S3 REST API subset llmtune needs (put, get, head, list, delete, multipart
// upload), signed with SigV4, for AWS S3 and S3-compatible servers (MinIO, Ceph RGW).
//
// Addressing: virtual-hosted (https://<bucket>.s3.<region>.amazonaws.com/<key>) by default on
// AWS; path-style (<endpoint>/<bucket>/<key>) with `path_style`, which MinIO and Ceph usually
// need. A custom `endpoint` ("http://127.0.0.1:9000") replaces the AWS host.
//
// Integrity: every uploaded body (each part of a multipart upload) is sent with Content-MD5
// and its SHA-256 as the signed x-amz-content-sha256, so the server rejects corrupted bytes.
// A download checks its length against Content-Length and, when the ETag is a plain MD5
// (single-part upload without KMS), its MD5 against the ETag.
//
// Large objects: a put larger than `multipart_threshold` is a multipart upload of `part_size`
// parts (64 MiB by default: 10,000 parts reach 640 GB, past S3's 5 GB single-put limit).
// A failed multipart upload is aborted, so no invisible parts are left billed.
//
// Errors: S3's XML error body becomes an S3Error (an llmtune::Error) with the code, status,
// bucket, key and action named:
//   AccessDenied        unauthorized, naming the bucket, the action and the principal when
//                       the message reports one ("User: arn:... is not authorized to ...")
//   NoSuchBucket/Key    not_found
//   wrong region        invalid_input (AuthorizationHeaderMalformed, PermanentRedirect, 301,
//                       or an x-amz-bucket-region header) with a hint naming the right region
// Transfer failures after the retries (http_client.h) are io Errors.
//
// Threads: one S3Client per thread (it owns an HttpClient).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cloud/aws_credentials.h"
#include "cloud/http_client.h"
#include "common/error.h"

namespace llmtune::cloud {

struct S3Config {
    std::string region = "us-east-1";
    std::string endpoint;     // "" = AWS (https://s3.<region>.amazonaws.com); else a URL
    bool path_style = false;  // <endpoint>/<bucket>/<key> instead of <bucket>.<host>/<key>
    AwsCredentials credentials;
    uint64_t part_size = 64ull << 20;            // multipart part size (S3: 5 MiB .. 5 GiB)
    uint64_t multipart_threshold = 64ull << 20;  // puts above this size go multipart
    HttpClientOptions http;
};

// The part size of a multipart upload of `object_size` bytes: `configured`, grown to whole
// MiB when the object would need more than S3's 10,000 parts.
uint64_t multipart_part_size(uint64_t object_size, uint64_t configured);

// "s3://bucket/some/prefix" -> {bucket, "some/prefix"} (no leading or trailing '/').
struct S3Location {
    std::string bucket;
    std::string prefix;
};
// invalid_input naming the text when it is not s3://bucket[/prefix] with a valid bucket name.
S3Location parse_s3_uri(const std::string& uri);

struct S3ObjectInfo {
    std::string key;
    uint64_t size = 0;
    std::string etag;           // without quotes
    std::string last_modified;  // as the server wrote it
};

struct S3ListPage {
    std::vector<S3ObjectInfo> objects;
    std::string next_continuation_token;  // "" when this was the last page
};

class S3Error : public Error {
  public:
    S3Error(ErrorKind kind, std::string message, std::string hint, std::string code, long status)
        : Error(kind, std::move(message), std::move(hint)),
          code_(std::move(code)),
          status_(status) {}
    const std::string& code() const { return code_; }  // "NoSuchKey", "" for a bare status
    long status() const { return status_; }

  private:
    std::string code_;
    long status_;
};

class S3Client {
  public:
    explicit S3Client(S3Config config);

    // Uploads `size` bytes from `read` (fills up to n bytes, returns how many, 0 only at the
    // end). Parts are buffered in memory (one part at a time) to be hashed before sending.
    void put(const std::string& bucket, const std::string& key, uint64_t size,
             const std::function<size_t(char*, size_t)>& read,
             const std::string& content_type = "application/octet-stream");
    // Uploads a file; parts are read from the file twice (hash, send) instead of buffered.
    void put_file(const std::string& bucket, const std::string& key, const std::string& path,
                  const std::string& content_type = "application/octet-stream");
    void put_string(const std::string& bucket, const std::string& key, const std::string& data,
                    const std::string& content_type = "application/octet-stream");

    // Streams the object into `write` (return false to stop: io Error). A retried download
    // calls `restart` first (and restarts from byte 0). Returns the object's info.
    S3ObjectInfo get(const std::string& bucket, const std::string& key,
                     const std::function<bool(const char*, size_t)>& write,
                     const std::function<void()>& restart);
    // Downloads into `path` through a temp file beside it, renamed when complete and checked.
    S3ObjectInfo get_file(const std::string& bucket, const std::string& key,
                          const std::string& path);
    std::string get_string(const std::string& bucket, const std::string& key);

    // The object's info, or nullopt when there is no such key (other errors throw).
    std::optional<S3ObjectInfo> head(const std::string& bucket, const std::string& key);

    // One page of ListObjectsV2 (at most max_keys, S3 caps it at 1000).
    S3ListPage list_page(const std::string& bucket, const std::string& prefix,
                         const std::string& continuation_token = "", int max_keys = 1000);
    // Every object under the prefix, all pages.
    std::vector<S3ObjectInfo> list(const std::string& bucket, const std::string& prefix);

    // Deletes the key; a missing key is not an error (S3 answers 204 either way).
    void remove(const std::string& bucket, const std::string& key);

    const S3Config& config() const { return config_; }

    // The URL of an object (key percent-encoded); exposed for tests and messages.
    std::string object_url(const std::string& bucket, const std::string& key,
                           const std::string& query = "") const;

  private:
    using ReadAt = std::function<void(uint64_t offset, char* buf, size_t n)>;
    HttpResponse send(HttpRequest request, const std::string& payload_sha256);
    [[noreturn]] void throw_s3_error(const std::string& action, const std::string& bucket,
                                     const std::string& key, const HttpResponse& response) const;
    // One body (object or part) read through read_at: hashed, then sent; returns the ETag.
    std::string put_body(const std::string& action, const std::string& bucket,
                         const std::string& key, const std::string& url, uint64_t offset,
                         uint64_t size, const ReadAt& read_at, const std::string& content_type);
    void put_multipart(const std::string& bucket, const std::string& key, uint64_t size,
                       uint64_t part_size, const ReadAt& read_at, const std::string& content_type);

    S3Config config_;
    HttpClient http_;
};

}  // namespace llmtune::cloud
