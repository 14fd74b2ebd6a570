#include "service/blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>

#include "common/atomic_file.h"
#include "common/error.h"

namespace llmtune::service {

namespace fs = std::filesystem;

namespace {

std::atomic<uint64_t> g_counter{0};

void fsync_dir(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw_io(dir + ": cannot open directory to fsync: " + errno_text(errno));
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) throw_io(dir + ": fsync failed: " + errno_text(err));
}

}  // namespace

BlobWriter::BlobWriter(std::string tmp_path, std::string root)
    : tmp_path_(std::move(tmp_path)), root_(std::move(root)) {
    fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0)
        throw_io(tmp_path_ + ": cannot create: " + errno_text(errno),
                 "check that the data dir is writable");
}

BlobWriter::~BlobWriter() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_path_.c_str());
}

void BlobWriter::write(const void* data, size_t n) {
    LLMTUNE_ASSERT(fd_ >= 0 && !committed_, "write after commit");
    hash_.update(data, n);
    const char* p = static_cast<const char*>(data);
    size_t left = n;
    while (left > 0) {
        ssize_t w = ::write(fd_, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            int err = errno;
            throw Error(err == ENOSPC ? ErrorKind::resource_exhausted : ErrorKind::io,
                        tmp_path_ + ": write failed: " + errno_text(err),
                        err == ENOSPC ? "free some disk space in the data dir" : "");
        }
        p += w;
        left -= static_cast<size_t>(w);
    }
    size_ += n;
}

BlobInfo BlobWriter::commit() {
    LLMTUNE_ASSERT(fd_ >= 0 && !committed_, "commit called twice");
    if (::fsync(fd_) != 0) throw_io(tmp_path_ + ": fsync failed: " + errno_text(errno));
    ::close(fd_);
    fd_ = -1;
    BlobInfo info{hash_.hex_digest(), size_};
    std::string dir = root_ + "/sha256/" + info.sha256.substr(0, 2);
    make_dirs(dir);
    std::string final_path = dir + "/" + info.sha256;
    // rename() over an existing blob replaces identical bytes with identical bytes: harmless,
    // and it keeps the operation a single atomic step.
    if (::rename(tmp_path_.c_str(), final_path.c_str()) != 0)
        throw_io(final_path + ": rename failed: " + errno_text(errno));
    committed_ = true;
    fsync_dir(dir);
    return info;
}

LocalBlobStore::LocalBlobStore(const std::string& data_dir) : root_(data_dir + "/blobs") {
    make_dirs(root_ + "/sha256");
    make_dirs(root_ + "/tmp");
    // Temp files are never referenced by the database: anything left is from a crash.
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(root_ + "/tmp", ec)) fs::remove(e.path(), ec);
}

std::string LocalBlobStore::temp_path() const {
    return root_ + "/tmp/" + std::to_string(::getpid()) + "-" + std::to_string(g_counter.fetch_add(1));
}

std::unique_ptr<BlobWriter> LocalBlobStore::begin() const {
    return std::make_unique<BlobWriter>(temp_path(), root_);
}

BlobInfo BlobStore::put(const std::string& data) const {
    auto w = begin();
    w->write(data.data(), data.size());
    return w->commit();
}

std::string LocalBlobStore::path(const std::string& sha256) const {
    if (!is_sha256_hex(sha256)) throw_invalid("not a sha256 blob name: '" + sha256 + "'");
    return root_ + "/sha256/" + sha256.substr(0, 2) + "/" + sha256;
}

bool LocalBlobStore::exists(const std::string& sha256) const {
    struct stat st {};
    return ::stat(path(sha256).c_str(), &st) == 0;
}

void LocalBlobStore::remove(const std::string& sha256) const {
    std::string p = path(sha256);
    if (::unlink(p.c_str()) != 0 && errno != ENOENT)
        throw_io(p + ": cannot remove: " + errno_text(errno));
}

uint64_t LocalBlobStore::size(const std::string& sha256) const {
    struct stat st {};
    std::string p = path(sha256);
    if (::stat(p.c_str(), &st) != 0)
        throw Error(ErrorKind::not_found, p + ": blob missing from the store");
    return static_cast<uint64_t>(st.st_size);
}

}  // namespace llmtune::service
