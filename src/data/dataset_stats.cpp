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
    return j;
}

}  // namespace llmtune::data
