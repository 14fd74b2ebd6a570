#include "data/split.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <unordered_map>
#include <unordered_set>

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

std::vector<bool> plan_split(const std::vector<uint64_t>& hashes, const SplitOptions& options) {
    std::vector<bool> out(hashes.size(), false);
    if (!options.enabled() || hashes.empty()) return out;
    int64_t n = static_cast<int64_t>(hashes.size());
    int64_t target =
        options.count > 0
            ? options.count
            : std::max<int64_t>(1, std::llround(options.fraction * static_cast<double>(n)));
    if (target >= n)
        throw_invalid("--split asks for " + std::to_string(target) + " validation records out of " +
                          std::to_string(n) + ", which leaves none for training",
                      "give a smaller fraction or count");
    std::unordered_map<uint64_t, int64_t> group_size;
    for (uint64_t h : hashes)
        ++group_size[h];
    std::vector<std::pair<uint64_t, uint64_t>> keyed;  // (key, hash)
    keyed.reserve(group_size.size());
    for (const auto& [h, size] : group_size)
        keyed.emplace_back(mix64(h ^ mix64(options.seed)), h);
    std::sort(keyed.begin(), keyed.end());
    std::unordered_set<uint64_t> validation;
    int64_t taken = 0;
    for (const auto& [key, h] : keyed) {
        if (taken == target) break;
        int64_t size = group_size[h];
        if (taken + size > target) continue;
        validation.insert(h);
        taken += size;
    }
    for (size_t i = 0; i < hashes.size(); ++i)
        out[i] = validation.count(hashes[i]) > 0;
    return out;
}

}  // namespace llmtune::data
