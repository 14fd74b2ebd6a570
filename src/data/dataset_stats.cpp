#include "data/dataset_stats.h"

#include <cmath>

namespace llmtune::data {

void TokenStats::add(int64_t tokens, int64_t trainable) {
    ++histogram_[tokens];
    ++count_;
    total_ += tokens;
    trainable_ += trainable;
}

int64_t TokenStats::percentile(double p) const {
    if (count_ == 0) return 0;
    // Nearest rank: the ceil(p * n)-th smallest value (1-based), at least the first.
    int64_t rank = static_cast<int64_t>(std::ceil(p * static_cast<double>(count_)));
    if (rank < 1) rank = 1;
    int64_t seen = 0;
    for (const auto& [len, n] : histogram_) {
        seen += n;
        if (seen >= rank) return len;
    }
    return histogram_.rbegin()->first;
}

std::vector<LengthBucket> TokenStats::length_histogram(int max_buckets) const {
    std::vector<LengthBucket> out;
    if (count_ == 0 || max_buckets < 1) return out;
    int64_t lo = min(), hi = max();
    int64_t width = 1;
    while (hi / width - lo / width + 1 > max_buckets) width *= 2;
    for (int64_t b = lo / width; b <= hi / width; ++b)
        out.push_back({b * width, (b + 1) * width, 0});
    int64_t first = lo / width;
    for (const auto& [len, n] : histogram_) out[static_cast<size_t>(len / width - first)].count += n;
    return out;
}

ordered_json TokenStats::to_json() const {
    ordered_json j;
    j["count"] = count_;
    j["min"] = min();
    j["mean"] = std::round(mean() * 100) / 100;
    j["p50"] = percentile(0.5);
    j["p95"] = percentile(0.95);
    j["max"] = max();
    j["total"] = total_;
    j["trainable_tokens"] = trainable_;
    ordered_json buckets = ordered_json::array();
    for (const auto& b : length_histogram())
        buckets.push_back({{"lo", b.lo}, {"hi", b.hi}, {"count", b.count}});
    j["histogram"] = buckets;
    return j;
}

}  // namespace llmtune::data
