#include "data/split.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "common/error.h"
#include "data/duplicate_finder.h"

namespace llmtune::data {

namespace {

uint64_t mix64(uint64_t x) {
    // splitmix64's finalizer
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

}  // namespace

SplitOptions parse_split(const std::string& value, uint64_t seed) {
    SplitOptions o;
    o.seed = seed;
    char* end = nullptr;
    double v = std::strtod(value.c_str(), &end);
    if (value.empty() || !end || *end != '\0' || !std::isfinite(v) || v <= 0)
        throw_invalid("--split " + value + " is not a positive number",
                      "give a fraction such as 0.1, or a record count such as 500");
    if (v < 1) {
        o.fraction = v;
    } else {
        if (v != std::floor(v))
            throw_invalid("--split " + value + " is neither a fraction below 1 nor a whole count",
                          "give a fraction such as 0.1, or a record count such as 500");
        o.count = static_cast<int64_t>(v);
    }
    return o;
}

uint64_t content_hash(std::string_view text) {
    return content_hash128(text).lo;
}

SplitPlan::SplitPlan(uint64_t below, std::vector<uint64_t> validation_keys, uint64_t seed_mix)
    : below_(below), validation_keys_(std::move(validation_keys)), seed_mix_(seed_mix) {}

bool SplitPlan::to_validation(uint64_t hash) const {
    const uint64_t key = mix64(hash ^ seed_mix_);
    return key < below_ ||
           std::binary_search(validation_keys_.begin(), validation_keys_.end(), key);
}

namespace {

// How many records go to validation; invalid_input when that leaves none for training.
int64_t validation_target(int64_t n, const SplitOptions& options) {
    int64_t target =
        options.count > 0
            ? options.count
            : std::max<int64_t>(1, std::llround(options.fraction * static_cast<double>(n)));
    if (target >= n)
        throw_invalid("--split asks for " + std::to_string(target) + " validation records out of " +
                          std::to_string(n) + ", which leaves none for training",
                      "give a smaller fraction or count");
    return target;
}

// The rule of the split: groups of equal keys (exact duplicates) are taken in key order until
// `target` records are taken, passing over groups that would overshoot it. `sorted` continues
// where the groups already taken (`taken` records) end; the keys taken are appended to `out`.
// Returns the records taken in all.
int64_t take_groups(const std::vector<uint64_t>& sorted, int64_t taken, int64_t target,
                    std::vector<uint64_t>& out) {
    for (size_t i = 0; i < sorted.size() && taken < target;) {
        size_t j = i + 1;
        while (j < sorted.size() && sorted[j] == sorted[i])
            ++j;
        const int64_t size = static_cast<int64_t>(j - i);
        if (taken + size <= target) {
            out.push_back(sorted[i]);
            taken += size;
        }
        i = j;
    }
    return taken;
}

}  // namespace

SplitPlan plan_split_groups(std::vector<uint64_t> hashes, const SplitOptions& options) {
    const uint64_t seed_mix = mix64(options.seed);
    if (!options.enabled() || hashes.empty()) return SplitPlan(0, {}, seed_mix);
    const int64_t target = validation_target(static_cast<int64_t>(hashes.size()), options);
    // Each group of equal hashes gets the key mix64(hash ^ seed_mix). Both steps are
    // bijections on 64-bit words, so equal keys mean equal hashes: sorting the keys in place
    // gives the groups in key order with no copy and no per-group records (docs/architecture.md).
    for (uint64_t& h : hashes)
        h = mix64(h ^ seed_mix);
    std::sort(hashes.begin(), hashes.end());
    std::vector<uint64_t> taken_keys;
    take_groups(hashes, 0, target, taken_keys);
    return SplitPlan(0, std::move(taken_keys), seed_mix);
}

SplitPlan plan_split_streaming(
    const std::function<void(const std::function<void(uint64_t)>&)>& for_each_hash,
    int64_t count, const SplitOptions& options, size_t max_keys_per_pass) {
    const uint64_t seed_mix = mix64(options.seed);
    if (!options.enabled() || count == 0) return SplitPlan(0, {}, seed_mix);
    const int64_t target = validation_target(count, options);
    constexpr int kShift = 48;  // buckets by the top 16 bits of the key
    std::vector<int64_t> histogram(size_t(1) << (64 - kShift), 0);
    int64_t seen = 0;
    for_each_hash([&](uint64_t h) {
        ++histogram[mix64(h ^ seed_mix) >> kShift];
        ++seen;
    });
    LLMTUNE_ASSERT(seen == count, "every record is visited once a pass");
    // Equal keys share a bucket, so every group in the buckets before the first one that would
    // overshoot the target fits: those are taken whole, as one key range.
    size_t boundary = 0;
    int64_t taken = 0;
    while (boundary < histogram.size() && taken + histogram[boundary] <= target)
        taken += histogram[boundary++];
    const uint64_t below = static_cast<uint64_t>(boundary) << kShift;
    // From the boundary on, the groups are decided one by one, a run of buckets a pass.
    std::vector<uint64_t> taken_keys;
    for (size_t lo = boundary; lo < histogram.size() && taken < target;) {
        size_t hi = lo + 1;
        size_t keys = static_cast<size_t>(histogram[lo]);
        while (hi < histogram.size() && keys + static_cast<size_t>(histogram[hi]) <= max_keys_per_pass)
            keys += static_cast<size_t>(histogram[hi++]);
        std::vector<uint64_t> run;
        run.reserve(keys);
        for_each_hash([&](uint64_t h) {
            const uint64_t key = mix64(h ^ seed_mix);
            const size_t bucket = key >> kShift;
            if (bucket >= lo && bucket < hi) run.push_back(key);
        });
        std::sort(run.begin(), run.end());
        taken = take_groups(run, taken, target, taken_keys);
        lo = hi;
    }
    return SplitPlan(below, std::move(taken_keys), seed_mix);
}

std::vector<bool> plan_split(const std::vector<uint64_t>& hashes, const SplitOptions& options) {
    std::vector<bool> out(hashes.size(), false);
    if (!options.enabled() || hashes.empty()) return out;
    SplitPlan plan = plan_split_groups(hashes, options);
    for (size_t i = 0; i < hashes.size(); ++i)
        out[i] = plan.to_validation(hashes[i]);
    return out;
}

}  // namespace llmtune::data
