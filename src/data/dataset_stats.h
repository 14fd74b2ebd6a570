// TokenStats: token-count statistics over a dataset in memory bounded by the number of
// distinct lengths (a histogram), so percentiles are exact without keeping every count.
#pragma once

#include <cstdint>
#include <map>

#include "common/json_file.h"

namespace llmtune::data {

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

    // {"count", "min", "mean", "p50", "p95", "max", "total", "trainable_tokens"}
    ordered_json to_json() const;

  private:
    std::map<int64_t, int64_t> histogram_;  // tokens -> records
    int64_t count_ = 0, total_ = 0, trainable_ = 0;
};

}  // namespace llmtune::data
