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

SplitPlan::SplitPlan(std::vector<uint64_t> validation_keys, uint64_t seed_mix)
    : validation_keys_(std::move(validation_keys)), seed_mix_(seed_mix) {}

bool SplitPlan::to_validation(uint64_t hash) const {
    return std::binary_search(validation_keys_.begin(), validation_keys_.end(),
                              mix64(hash ^ seed_mix_));
}

SplitPlan plan_split_groups(std::vector<uint64_t> hashes, const SplitOptions& options) {
    const uint64_t seed_mix = mix64(options.seed);
    if (!options.enabled() || hashes.empty()) return SplitPlan({}, seed_mix);
    int64_t n = static_cast<int64_t>(hashes.size());
    int64_t target =
        options.count > 0
            ? options.count
            : std::max<int64_t>(1, std::llround(options.fraction * static_cast<double>(n)));
    if (target >= n)
        throw_invalid("--split asks for " + std::to_string(target) + " validation records out of " +
                          std::to_string(n) + ", which leaves none for training",
                      "give a smaller fraction or count");
    // Each group of equal hashes gets the key mix64(hash ^ seed_mix). Both steps are
    // bijections on 64-bit words, so equal keys mean equal hashes: sorting the keys in place
    // gives the groups in key order with no copy and no per-group records (docs/architecture.md).
    for (uint64_t& h : hashes)
        h = mix64(h ^ seed_mix);
    std::sort(hashes.begin(), hashes.end());
    // Take groups in key order until the target is reached, passing over groups that would
    // overshoot it; the keys taken are compacted to the front (still sorted).
    size_t kept = 0;
    int64_t taken = 0;
    for (size_t i = 0; i < hashes.size() && taken < target;) {
        size_t j = i + 1;
        while (j < hashes.size() && hashes[j] == hashes[i])
            ++j;
        int64_t size = static_cast<int64_t>(j - i);
        if (taken + size <= target) {
            hashes[kept++] = hashes[i];
            taken += size;
        }
        i = j;
    }
    hashes.resize(kept);
    hashes.shrink_to_fit();
    return SplitPlan(std::move(hashes), seed_mix);
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
