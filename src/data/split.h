// Train/validation split: seeded, deterministic, and duplicate-safe.
//
// Records are grouped by content hash (exact duplicates share one), each group gets a key
// from the seed and its hash, and groups are taken into validation in key order until the
// target size is reached (groups that would overshoot are passed over). So the same seed and
// data always give the same split, independent of record order, and exact duplicates always
// land on the same side.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace llmtune::data {

struct SplitOptions {
    double fraction = 0;  // 0 < fraction < 1: that share of the records goes to validation
    int64_t count = 0;    // or exactly this many records (when > 0)
    uint64_t seed = 0;
    bool enabled() const { return fraction > 0 || count > 0; }
};

// Parses a --split value: below 1 a fraction ("0.1"), otherwise a whole count ("500").
SplitOptions parse_split(const std::string& value, uint64_t seed);

// A stable 64-bit hash of a record's canonical text (half of content_hash128, the same on
// every platform).
uint64_t content_hash(std::string_view text);

// The validation side of a planned split: the sorted keys of the hash groups it takes, 8 bytes
// a group, so a caller can stream its records a second time and ask record by record instead
// of keeping a per-record answer.
class SplitPlan {
  public:
    SplitPlan() = default;
    // Validation: every key below `below`, and the keys listed (sorted).
    SplitPlan(uint64_t below, std::vector<uint64_t> validation_keys, uint64_t seed_mix);
    bool to_validation(uint64_t hash) const;

  private:
    uint64_t below_ = 0;
    std::vector<uint64_t> validation_keys_;  // sorted
    uint64_t seed_mix_ = 0;
};

// Plans the split from every record's content hash. Takes the hashes by value and sorts them in
// place (move them in to keep the peak at one copy). invalid_input when the split would leave
// no training records.
SplitPlan plan_split_groups(std::vector<uint64_t> hashes, const SplitOptions& options);

// The same plan for records that can be read again rather than held: `for_each_hash(visit)`
// calls visit(hash) for each of the `count` records, in any order, and is called a few times.
// Memory: a 64 Ki-bucket histogram of the keys, then the keys near the boundary of the
// validation side, at most `max_keys_per_pass` at a time (a bucket is never split), so a file
// of any size plans in a few MB.
SplitPlan plan_split_streaming(
    const std::function<void(const std::function<void(uint64_t)>&)>& for_each_hash,
    int64_t count, const SplitOptions& options, size_t max_keys_per_pass = size_t(1) << 20);

// For each record (by its content hash), whether it goes to validation.
std::vector<bool> plan_split(const std::vector<uint64_t>& hashes, const SplitOptions& options);

}  // namespace llmtune::data
