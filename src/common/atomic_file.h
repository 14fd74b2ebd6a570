// Atomic file writes: data goes to a temporary file in the same directory, is fsync'ed, then
// renamed over the target, and the directory is fsync'ed. A crash leaves either the old file
// or the new one, never a torn mix.
#pragma once

#include <cstddef>
#include <string>

namespace llmtune {

class AtomicFile {
  public:
    explicit AtomicFile(std::string path);  // opens "<path>.tmp.<pid>.<n>"
    ~AtomicFile();                          // removes the temp file unless commit() ran
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    void write(const void* data, size_t n);
    void commit();  // fsync, rename, fsync the directory

  private:
    std::string path_;
    std::string tmp_path_;
    int fd_ = -1;
};

void write_file_atomic(const std::string& path, const std::string& contents);

// Creates a directory and its parents (like mkdir -p); io error on failure.
void make_dirs(const std::string& path);

}  // namespace llmtune
