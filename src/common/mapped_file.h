// A read-only view of a whole file through mmap.
//
// The mapping is private and copy-on-write, so tensors that alias it can be modified in memory
// (e.g. by training) without touching the file and without faulting.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace llmtune {

class MappedFile {
  public:
    // Throws not_found / io with the path on failure.
    static std::shared_ptr<MappedFile> open(const std::string& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    const std::string& path() const { return path_; }

  private:
    MappedFile() = default;
    uint8_t* data_ = nullptr;
    size_t size_ = 0;
    std::string path_;
};

}  // namespace llmtune
