// Exact duplicate records, found in memory that does not grow with the file.
//
// Each kept record adds the 128-bit XXH3 hash of its canonical line and its line number (24
// bytes). Entries are sorted in a buffer of bounded size (and as much scratch for the sort); a
// full buffer is written to an anonymous scratch file (tmpfile(), in TMPDIR) as a sorted run,
// and finish() merges the runs.
// Records whose hashes are equal are duplicates: a 128-bit collision between different lines
// is about as likely as n^2 / 2^129 (1e-26 for a billion records).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string_view>
#include <utility>
#include <vector>

namespace llmtune::data {

struct ContentHash {
    uint64_t hi = 0, lo = 0;
    bool operator==(const ContentHash& o) const { return hi == o.hi && lo == o.lo; }
    bool operator!=(const ContentHash& o) const { return !(*this == o); }
};

// XXH3-128 of the text (stable across platforms).
ContentHash content_hash128(std::string_view text);

constexpr size_t kDefaultDuplicateBufferBytes = size_t(8) << 20;  // 349,525 records a run

// An allocator that puts buffers of 2 MiB or more on transparent huge pages where the kernel
// allows it (madvise mode): filling 8 MiB of entries takes 4 page faults instead of 2048.
template <class T>
struct HugePageAllocator {
    using value_type = T;
    HugePageAllocator() = default;
    template <class U>
    HugePageAllocator(const HugePageAllocator<U>&) {}
    T* allocate(size_t n);
    void deallocate(T* p, size_t n);
    template <class U>
    bool operator==(const HugePageAllocator<U>&) const {
        return true;
    }
    template <class U>
    bool operator!=(const HugePageAllocator<U>&) const {
        return false;
    }
};

class DuplicateFinder {
  public:
    explicit DuplicateFinder(size_t buffer_bytes = kDefaultDuplicateBufferBytes);
    ~DuplicateFinder();
    DuplicateFinder(const DuplicateFinder&) = delete;
    DuplicateFinder& operator=(const DuplicateFinder&) = delete;

    void add(const ContentHash& hash, uint64_t line);

    struct Duplicates {
        // (line, line of the first copy) for the `max_listed` duplicates with the lowest lines,
        // in line order.
        std::vector<std::pair<uint64_t, uint64_t>> listed;
        uint64_t total = 0;  // all duplicates (records that repeat an earlier one)
    };
    Duplicates finish(size_t max_listed);

    // Sorted runs written to the scratch file so far (for tests).
    size_t runs() const { return runs_.size(); }

    struct Entry {
        uint64_t hi, lo, line;
    };
    using Entries = std::vector<Entry, HugePageAllocator<Entry>>;

  private:
    void spill();

    size_t capacity_;
    Entries buf_;     // reserved at full capacity: pages are touched only as it fills
    Entries sorted_;  // sort_entries' scratch, kept between runs
    std::FILE* scratch_ = nullptr;
    std::vector<std::pair<uint64_t, uint64_t>> runs_;  // (first entry, entry count) in scratch_
    uint64_t written_ = 0;
};

}  // namespace llmtune::data
