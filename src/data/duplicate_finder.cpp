#include "data/duplicate_finder.h"

#include <sys/mman.h>
#include <unistd.h>

// On x86-64 the library's run-time dispatch picks AVX2 or AVX-512 where the CPU has them: a
// kilobyte line hashes 1.6x as fast as with the inlined build, which is SSE2 only there.
#if defined(__x86_64__)
#include <xxh_x86dispatch.h>
#include <xxhash.h>
#else
#define XXH_INLINE_ALL
#include <xxhash.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <new>
#include <queue>

#include "common/error.h"

namespace llmtune::data {

namespace {

// A function object rather than a function pointer, so that std::sort inlines it.
struct EntryLess {
    bool operator()(const DuplicateFinder::Entry& a, const DuplicateFinder::Entry& b) const {
        if (a.hi != b.hi) return a.hi < b.hi;
        if (a.lo != b.lo) return a.lo < b.lo;
        return a.line < b.line;
    }
};
constexpr EntryLess entry_less;

// Sorts `v` by entry_less, using `tmp` as scratch. The hashes are uniform, so one counting pass
// on the top 16 bits of hi scatters the entries into buckets of a few entries each, which are
// then sorted on their own: about a quarter of std::sort's time on a full buffer.
void sort_entries(DuplicateFinder::Entries& v, DuplicateFinder::Entries& tmp) {
    constexpr int kBits = 16;
    if (v.size() < (size_t(1) << 12)) {
        std::sort(v.begin(), v.end(), entry_less);
        return;
    }
    std::vector<uint32_t> start((size_t(1) << kBits) + 1, 0);
    for (const auto& e : v)
        ++start[(e.hi >> (64 - kBits)) + 1];
    for (size_t b = 1; b < start.size(); ++b)
        start[b] += start[b - 1];
    tmp.resize(v.size());
    std::vector<uint32_t> next(start.begin(), start.end() - 1);
    for (const auto& e : v)
        tmp[next[e.hi >> (64 - kBits)]++] = e;
    for (size_t b = 0; b + 1 < start.size(); ++b)
        if (start[b + 1] - start[b] > 1)
            std::sort(tmp.begin() + start[b], tmp.begin() + start[b + 1], entry_less);
    v.swap(tmp);
}

// Reads one sorted run back from the scratch file, a block at a time.
class RunReader {
  public:
    RunReader(int fd, uint64_t first, uint64_t count) : fd_(fd), next_(first), left_(count) {}
    // The current entry; false when the run is done.
    bool valid() const { return pos_ < block_.size(); }
    const DuplicateFinder::Entry& entry() const { return block_[pos_]; }
    void advance() {
        if (++pos_ == block_.size()) load();
    }
    void load() {
        size_t n = static_cast<size_t>(std::min<uint64_t>(left_, kBlock));
        block_.resize(n);
        pos_ = 0;
        if (n == 0) return;
        const size_t bytes = n * sizeof(DuplicateFinder::Entry);
        size_t got = 0;
        while (got < bytes) {
            ssize_t r = ::pread(fd_, reinterpret_cast<char*>(block_.data()) + got, bytes - got,
                                static_cast<off_t>(next_ * sizeof(DuplicateFinder::Entry) + got));
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0)
                throw_io("duplicate detection: cannot read its scratch file: " +
                         errno_text(r < 0 ? errno : EIO));
            got += static_cast<size_t>(r);
        }
        next_ += n;
        left_ -= n;
    }

  private:
    static constexpr size_t kBlock = 4096;  // 96 KiB a run
    int fd_;
    uint64_t next_, left_;
    std::vector<DuplicateFinder::Entry> block_;
    size_t pos_ = 0;
};

}  // namespace

template <class T>
T* HugePageAllocator<T>::allocate(size_t n) {
    constexpr size_t kHuge = size_t(2) << 20;
    const size_t bytes = n * sizeof(T);
    if (bytes < kHuge) return static_cast<T*>(::operator new(bytes));
    const size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
    void* p = std::aligned_alloc(kHuge, rounded);
    if (!p) throw std::bad_alloc();
    ::madvise(p, rounded, MADV_HUGEPAGE);  // advice only: small pages still work
    return static_cast<T*>(p);
}

template <class T>
void HugePageAllocator<T>::deallocate(T* p, size_t n) {
    if (n * sizeof(T) < (size_t(2) << 20))
        ::operator delete(p);
    else
        std::free(p);
}

template struct HugePageAllocator<DuplicateFinder::Entry>;

ContentHash content_hash128(std::string_view text) {
    XXH128_hash_t h = XXH3_128bits(text.data(), text.size());
    return {h.high64, h.low64};
}

DuplicateFinder::DuplicateFinder(size_t buffer_bytes)
    : capacity_(std::max<size_t>(16, buffer_bytes / sizeof(Entry))) {}

DuplicateFinder::~DuplicateFinder() {
    if (scratch_) std::fclose(scratch_);
}

void DuplicateFinder::add(const ContentHash& hash, uint64_t line) {
    if (buf_.capacity() < capacity_) buf_.reserve(capacity_);
    buf_.push_back({hash.hi, hash.lo, line});
    if (buf_.size() == capacity_) spill();
}

void DuplicateFinder::spill() {
    if (buf_.empty()) return;
    sort_entries(buf_, sorted_);
    if (!scratch_) {
        scratch_ = std::tmpfile();
        if (!scratch_)
            throw_io("duplicate detection: cannot create a scratch file: " + errno_text(errno),
                     "set TMPDIR to a writable directory with space for 24 bytes a record");
    }
    if (std::fwrite(buf_.data(), sizeof(Entry), buf_.size(), scratch_) != buf_.size() ||
        std::fflush(scratch_) != 0)
        throw_io("duplicate detection: cannot write its scratch file: " + errno_text(errno),
                 "set TMPDIR to a writable directory with space for 24 bytes a record");
    runs_.emplace_back(written_, buf_.size());
    written_ += buf_.size();
    buf_.clear();
}

DuplicateFinder::Duplicates DuplicateFinder::finish(size_t max_listed) {
    Duplicates out;
    // The `max_listed` lowest lines, kept in a max-heap.
    std::priority_queue<std::pair<uint64_t, uint64_t>> listed;
    bool have = false;
    Entry group{};
    auto visit = [&](const Entry& e) {
        if (have && e.hi == group.hi && e.lo == group.lo) {
            ++out.total;
            if (listed.size() < max_listed) {
                listed.emplace(e.line, group.line);
            } else if (max_listed > 0 && e.line < listed.top().first) {
                listed.pop();
                listed.emplace(e.line, group.line);
            }
            return;
        }
        group = e;
        have = true;
    };
    if (runs_.empty()) {
        sort_entries(buf_, sorted_);
        for (const Entry& e : buf_)
            visit(e);
    } else {
        spill();
        Entries().swap(buf_);
        Entries().swap(sorted_);
        std::vector<RunReader> readers;
        readers.reserve(runs_.size());
        for (const auto& [first, count] : runs_) {
            readers.emplace_back(fileno(scratch_), first, count);
            readers.back().load();
        }
        auto later = [&](size_t a, size_t b) {
            return entry_less(readers[b].entry(), readers[a].entry());
        };
        std::priority_queue<size_t, std::vector<size_t>, decltype(later)> heap(later);
        for (size_t i = 0; i < readers.size(); ++i)
            if (readers[i].valid()) heap.push(i);
        while (!heap.empty()) {
            size_t i = heap.top();
            heap.pop();
            visit(readers[i].entry());
            readers[i].advance();
            if (readers[i].valid()) heap.push(i);
        }
    }
    buf_.clear();
    out.listed.resize(listed.size());
    for (size_t i = listed.size(); i-- > 0; listed.pop())
        out.listed[i] = listed.top();
    return out;
}

}  // namespace llmtune::data
