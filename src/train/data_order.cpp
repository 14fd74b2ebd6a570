#include "train/data_order.h"

#include <string>

#include "common/error.h"

namespace llmtune::train {

uint64_t SplitMix64::next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t SplitMix64::below(uint64_t bound) {
    // Reject the top partial block so every residue is equally likely.
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t x;
    do {
        x = next();
    } while (x >= limit);
    return x % bound;
}

std::vector<int64_t> epoch_permutation(int64_t count, uint64_t seed, int64_t epoch) {
    std::vector<int64_t> p(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i)
        p[static_cast<size_t>(i)] = i;
    // Mix the epoch in through one SplitMix64 step so neighbouring (seed, epoch) pairs give
    // unrelated streams.
    SplitMix64 mix(seed ^ (0xa0761d6478bd642fULL * static_cast<uint64_t>(epoch + 1)));
    SplitMix64 rng(mix.next());
    for (int64_t i = count - 1; i > 0; --i) {
        const auto j = static_cast<int64_t>(rng.below(static_cast<uint64_t>(i + 1)));
        std::swap(p[static_cast<size_t>(i)], p[static_cast<size_t>(j)]);
    }
    return p;
}

DataOrder::DataOrder(int64_t count, int64_t batch_size, uint64_t seed)
    : count_(count), batch_size_(batch_size), seed_(seed) {
    LLMTUNE_ASSERT(count >= 1 && batch_size >= 1, "the trainer checks for empty data first");
    batches_per_epoch_ = (count + batch_size - 1) / batch_size;
}

void DataOrder::seek(const DataPosition& pos) {
    if (pos.epoch < 0 || pos.batch < 0 || pos.batch >= batches_per_epoch_)
        throw_invalid("data position epoch " + std::to_string(pos.epoch) + ", batch " +
                          std::to_string(pos.batch) + " is outside the data (" +
                          std::to_string(batches_per_epoch_) + " batches per epoch)",
                      "the checkpoint was written for different data or batch size");
    pos_ = pos;
}

const std::vector<int64_t>& DataOrder::order_for(int64_t epoch) {
    if (epoch != cached_epoch_) {
        cached_ = epoch_permutation(count_, seed_, epoch);
        cached_epoch_ = epoch;
    }
    return cached_;
}

std::vector<int64_t> DataOrder::next_batch() {
    const auto& order = order_for(pos_.epoch);
    const int64_t begin = pos_.batch * batch_size_;
    const int64_t end = std::min(count_, begin + batch_size_);
    std::vector<int64_t> out(order.begin() + begin, order.begin() + end);
    if (++pos_.batch == batches_per_epoch_) {
        pos_.batch = 0;
        ++pos_.epoch;
    }
    return out;
}

}  // namespace llmtune::train
