// One dataset record as the trainer sees it: token ids and, per position, the token the model
// is trained to predict there. Torch-free, so encoding and packing are tested without libtorch.
//
// `targets` is already shifted: targets[t] is the id the model must predict after reading
// input_ids[0..t], or kIgnoreTarget where no loss is taken (prompt tokens, the last position).
// Shifting here rather than in the loss keeps packed examples from predicting across their
// boundary: the last position of one example never targets the first token of the next.
#pragma once

#include <cstdint>
#include <vector>

namespace llmtune::data {

// transformers' ignore_index (-100): positions without loss.
constexpr int32_t kIgnoreTarget = -100;

struct TrainingExample {
    std::vector<int32_t> input_ids;  // (T)
    std::vector<int32_t> targets;    // (T), kIgnoreTarget or the next token's id
    int64_t truncated_tokens = 0;    // tokens cut off by max_seq_len (0 when it fit)

    int64_t size() const { return static_cast<int64_t>(input_ids.size()); }
    // Positions with a target (the tokens that carry loss).
    int64_t target_count() const;
};

}  // namespace llmtune::data
