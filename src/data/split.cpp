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
    // Groups of equal hashes, from a sorted copy: 16 bytes a group rather than hash maps'
    // nodes, so a split of millions of records stays small (docs/architecture.md).
    struct Group {
        uint64_t hash;
        int64_t size;
    };
    std::vector<Group> groups;
    {
        std::vector<uint64_t> sorted(hashes);
        std::sort(sorted.begin(), sorted.end());
        for (size_t i = 0; i < sorted.size();) {
            size_t j = i + 1;
            while (j < sorted.size() && sorted[j] == sorted[i])
                ++j;
            groups.push_back({sorted[i], static_cast<int64_t>(j - i)});
            i = j;
        }
    }
    const uint64_t seed_mix = mix64(options.seed);
    auto key = [&](const Group& g) { return mix64(g.hash ^ seed_mix); };
    std::sort(groups.begin(), groups.end(), [&](const Group& a, const Group& b) {
        uint64_t ka = key(a), kb = key(b);
        return ka != kb ? ka < kb : a.hash < b.hash;
    });
    std::vector<uint64_t> validation;  // hashes of the groups taken, sorted below
    int64_t taken = 0;
    for (const Group& g : groups) {
        if (taken == target) break;
        if (taken + g.size > target) continue;
        validation.push_back(g.hash);
        taken += g.size;
    }
    std::vector<Group>().swap(groups);
    std::sort(validation.begin(), validation.end());
    for (size_t i = 0; i < hashes.size(); ++i)
        out[i] = std::binary_search(validation.begin(), validation.end(), hashes[i]);
    return out;
}

}  // namespace llmtune::data
