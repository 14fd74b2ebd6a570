#include "common/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.h"

namespace llmtune {

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        if (err == ENOENT) throw Error(ErrorKind::not_found, path + ": no such file");
        throw_io(path + ": cannot open: " + errno_text(err));
    }
    struct stat st {};
    if (fstat(fd, &st) != 0) {
        int err = errno;
        ::close(fd);
        throw_io(path + ": cannot stat: " + errno_text(err));
    }
    if (S_ISDIR(st.st_mode)) {
        ::close(fd);
        throw_invalid(path + ": is a directory, expected a file");
    }
    std::shared_ptr<MappedFile> file(new MappedFile());
    file->path_ = path;
    file->size_ = static_cast<size_t>(st.st_size);
    if (file->size_ > 0) {
        void* p = mmap(nullptr, file->size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int err = errno;
            ::close(fd);
            throw_io(path + ": mmap failed: " + errno_text(err));
        }
        file->data_ = static_cast<uint8_t*>(p);
    }
    ::close(fd);  // the mapping keeps the file alive
    return file;
}

MappedFile::~MappedFile() {
    if (data_) munmap(data_, size_);
}

}  // namespace llmtune
