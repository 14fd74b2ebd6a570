#include "service/s3_blob_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.h"
#include "service/log.h"
#include "service/sha256.h"

namespace llmtune::service {

namespace {

// The local writer, then the upload: the blob is named (and cached) first, then stored.
class S3BlobWriter : public BlobWriter {
  public:
    S3BlobWriter(std::string tmp, std::string root, const S3BlobStore& store)
        : BlobWriter(std::move(tmp), std::move(root)), store_(store) {}

    BlobInfo commit() override {
        BlobInfo info = BlobWriter::commit();
        try {
            store_.upload(info);
        } catch (...) {
            // Not in the bucket: not in the cache either (see s3_blob_store.h).
            ::unlink(store_.cache_path(info.sha256).c_str());
            throw;
        }
        return info;
    }

  private:
    const S3BlobStore& store_;
};

}  // namespace

S3BlobStore::S3BlobStore(cloud::S3Config s3, cloud::S3Location where, const std::string& data_dir)
    : s3_(std::move(s3)), where_(std::move(where)), cache_(data_dir) {
    cloud::S3Client client(s3_);
    client.list_page(where_.bucket, key(""), "", 1);
}

std::string S3BlobStore::key(const std::string& sha256) const {
    std::string base = (where_.prefix.empty() ? "" : where_.prefix + "/") + "blobs/sha256/";
    if (sha256.empty()) return base;  // the listing prefix
    if (!is_sha256_hex(sha256)) throw_invalid("not a sha256 blob name: '" + sha256 + "'");
    return base + sha256.substr(0, 2) + "/" + sha256;
}

std::string S3BlobStore::location() const {
    return "s3://" + where_.bucket + (where_.prefix.empty() ? "" : "/" + where_.prefix);
}

std::unique_ptr<BlobWriter> S3BlobStore::begin() const {
    return std::make_unique<S3BlobWriter>(cache_.temp_path(), cache_.root(), *this);
}

void S3BlobStore::upload(const BlobInfo& blob) const {
    cloud::S3Client client(s3_);
    const std::string k = key(blob.sha256);
    auto existing = client.head(where_.bucket, k);
    if (existing && existing->size == blob.size) return;  // same name, same bytes
    client.put_file(where_.bucket, k, cache_.path(blob.sha256));
}

std::string S3BlobStore::path(const std::string& sha256) const {
    const std::string cached = cache_.path(sha256);  // checks the name
    struct stat st {};
    if (::stat(cached.c_str(), &st) == 0) return cached;
    // Download through the local writer: it hashes while writing, and the commit renames the
    // file to the name of the hash it computed.
    cloud::S3Client client(s3_);
    auto writer = cache_.begin();
    client.get(
        where_.bucket, key(sha256),
        [&](const char* p, size_t n) {
            writer->write(p, n);
            return true;
        },
        [&] { writer = cache_.begin(); });
    BlobInfo got = writer->commit();
    if (got.sha256 != sha256) {
        ::unlink(cache_.path(got.sha256).c_str());
        throw Error(ErrorKind::io,
                    location() + ": the object " + key(sha256) + " holds bytes whose SHA-256 is " +
                        got.sha256 + ", not its name",
                    "the object was changed or corrupted in the bucket; re-upload the file");
    }
    log_event(LogLevel::debug, "blob cached from S3", {{"sha256", sha256}, {"bytes", got.size}});
    return cached;
}

bool S3BlobStore::exists(const std::string& sha256) const {
    cloud::S3Client client(s3_);
    return client.head(where_.bucket, key(sha256)).has_value();
}

void S3BlobStore::remove(const std::string& sha256) const {
    cloud::S3Client client(s3_);
    client.remove(where_.bucket, key(sha256));
    cache_.remove(sha256);
}

uint64_t S3BlobStore::size(const std::string& sha256) const {
    cloud::S3Client client(s3_);
    auto info = client.head(where_.bucket, key(sha256));
    if (!info)
        throw Error(ErrorKind::not_found, location() + ": blob " + sha256 +
                                              " is missing from the bucket (key " + key(sha256) +
                                              ")");
    return info->size;
}

}  // namespace llmtune::service
