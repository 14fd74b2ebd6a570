// The order in which the trainer visits its training rows: a fresh seeded shuffle each epoch,
// and the position within it, so that a resume continues with exactly the next row.
//
// The permutation of epoch e is a Fisher-Yates shuffle driven by SplitMix64 seeded from
// (seed, e), written out here rather than taken from std::shuffle, whose algorithm differs
// between standard libraries: the same seed gives the same order on every platform. Because
// each epoch's order is a pure function of (seed, epoch, count), the position (epoch, next
// index) is all a checkpoint needs to store. Torch-free.
#pragma once

#include <cstdint>
#include <vector>

namespace llmtune::train {

// SplitMix64 (Steele, Lea, Flood: "Fast splittable pseudorandom number generators").
class SplitMix64 {
  public:
    explicit SplitMix64(uint64_t seed) : state_(seed) {}
    uint64_t next();
    // Uniform in [0, bound), bound >= 1, without modulo bias (rejection sampling).
    uint64_t below(uint64_t bound);

  private:
    uint64_t state_;
};

// The permutation of [0, count) for `epoch` (0-based).
std::vector<int64_t> epoch_permutation(int64_t count, uint64_t seed, int64_t epoch);

struct DataPosition {
    int64_t epoch = 0;  // 0-based epoch of the next batch
    int64_t batch = 0;  // index of the next batch within that epoch
    bool operator==(const DataPosition& o) const { return epoch == o.epoch && batch == o.batch; }
};

// Batches of `batch_size` consecutive items of each epoch's permutation; the last batch of an
// epoch may be smaller. Items are whatever the caller indexes (examples or packed rows).
class DataOrder {
  public:
    // count >= 1, batch_size >= 1.
    DataOrder(int64_t count, int64_t batch_size, uint64_t seed);

    int64_t batches_per_epoch() const { return batches_per_epoch_; }
    const DataPosition& position() const { return pos_; }
    // Moves to a saved position (invalid_input when it lies outside an epoch).
    void seek(const DataPosition& pos);

    // The next batch's item indices; advances the position (into the next epoch at the end).
    std::vector<int64_t> next_batch();

  private:
    const std::vector<int64_t>& order_for(int64_t epoch);
    int64_t count_, batch_size_, batches_per_epoch_;
    uint64_t seed_;
    DataPosition pos_;
    int64_t cached_epoch_ = -1;
    std::vector<int64_t> cached_;
};

}  // namespace llmtune::train
