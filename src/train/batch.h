// A training batch as tensors: what one forward/backward pass of the trainer consumes.
//
// Rows are either one example each, right-padded, or several examples packed into one row.
// In a packed row, position ids restart at 0 for each example and attention_bias is
// block-diagonal causal, so no example attends to another; targets never cross a boundary
// (data/training_example.h).
//
// Legend for shape comments: B rows, T positions (the longest row, or the packing length).
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace llmtune::train {

struct Batch {
    torch::Tensor input_ids;       // (B, T) int64; padding uses the pad id (never a target)
    torch::Tensor targets;         // (B, T) int64; -100 where no loss is taken
    torch::Tensor position_ids;    // (B, T) int64
    torch::Tensor attention_bias;  // additive (B, 1, T, T) in the model dtype, or undefined
                                   // for plain causal attention (unpacked rows)
    int64_t target_tokens = 0;     // number of targets != -100
    int64_t tokens = 0;            // number of non-padding positions (for tokens/s)
};

}  // namespace llmtune::train
