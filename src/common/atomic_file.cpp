#include "common/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>

#include "common/error.h"

namespace llmtune {

namespace {
std::atomic<unsigned> g_tmp_counter{0};

void fsync_dir_of(const std::string& path) {
    std::string dir = std::filesystem::path(path).parent_path().string();
    if (dir.empty()) dir = ".";
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;  // best effort: some filesystems do not allow opening directories
    ::fsync(fd);
    ::close(fd);
}
}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
    tmp_path_ = path_ + ".tmp." + std::to_string(getpid()) + "." + std::to_string(g_tmp_counter++);
    fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0)
        throw_io(tmp_path_ + ": cannot create: " + errno_text(errno),
                 "check that the directory exists and is writable");
}

AtomicFile::~AtomicFile() {
    if (fd_ >= 0) {
        ::close(fd_);
        ::unlink(tmp_path_.c_str());
    }
}

void AtomicFile::write(const void* data, size_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
        ssize_t w = ::write(fd_, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            int err = errno;
            throw Error(err == ENOSPC ? ErrorKind::resource_exhausted : ErrorKind::io,
                        tmp_path_ + ": write failed: " + errno_text(err),
                        err == ENOSPC ? "free some disk space and retry" : "");
        }
        p += w;
        n -= static_cast<size_t>(w);
    }
}

void AtomicFile::commit() {
    LLMTUNE_ASSERT(fd_ >= 0, "commit called twice");
    if (::fsync(fd_) != 0) throw_io(tmp_path_ + ": fsync failed: " + errno_text(errno));
    ::close(fd_);
    fd_ = -1;
    if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
        int err = errno;
        ::unlink(tmp_path_.c_str());
        throw_io(path_ + ": rename failed: " + errno_text(err));
    }
    fsync_dir_of(path_);
}

void write_file_atomic(const std::string& path, const std::string& contents) {
    AtomicFile f(path);
    f.write(contents.data(), contents.size());
    f.commit();
}

void make_dirs(const std::string& path) {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) throw_io(path + ": cannot create directory: " + ec.message());
}

}  // namespace llmtune
