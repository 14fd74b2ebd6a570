// TokenStats: token-count statistics over a dataset in memory bounded by the number of
// distinct lengths (a histogram), so percentiles are exact without keeping every count.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "common/json_file.h"

namespace llmtune::data {

// Records whose token count lies in [lo, hi).
struct LengthBucket {
    int64_t lo = 0, hi = 0, count = 0;
};

class TokenStats {
  public:
    // One record: its tokens, and how many of them are trained on (assistant tokens for chat,
    // all of them for text).
    void add(int64_t tokens, int64_t trainable);

    int64_t count() const { return count_; }
    int64_t total() const { return total_; }
    int64_t trainable_total() const { return trainable_; }
    int64_t min() const { return count_ ? histogram_.begin()->first : 0; }
    int64_t max() const { return count_ ? histogram_.rbegin()->first : 0; }
    double mean() const {
        return count_ ? static_cast<double>(total_) / static_cast<double>(count_) : 0;
    }
    // The smallest length L such that at least p (0..1) of the records have <= L tokens
    // (nearest-rank percentile).
    int64_t percentile(double p) const;

    // Consecutive buckets of one power-of-two width, aligned to multiples of it, from the one
    // holding min() to the one holding max(): the narrowest width that needs at most
    // `max_buckets` of them. Empty buckets between are kept, so the list draws as a histogram.
    // Empty when no record was added.
    std::vector<LengthBucket> length_histogram(int max_buckets = 20) const;

    // {"count", "min", "mean", "p50", "p95", "max", "total", "trainable_tokens",
    //  "histogram": [{"lo", "hi", "count"}, ...]}  (length_histogram(); hi is exclusive)
    ordered_json to_json() const;

  private:
    std::map<int64_t, int64_t> histogram_;  // tokens -> records
    int64_t count_ = 0, total_ = 0, trainable_ = 0;
};

}  // namespace llmtune::data
