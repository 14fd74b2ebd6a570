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
#include <vector>

#include "data/training_example.h"

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

// One example per row, right-padded with `pad_id` to the longest row. attention_bias stays
// undefined (plain causal): padding sits after every real token and is never a target, so no
// real position attends to it. position_ids are [0, T) on every row. invalid_input when `rows`
// is empty or an example is empty or has targets and input_ids of different lengths.
Batch make_padded_batch(const std::vector<const data::TrainingExample*>& rows, int32_t pad_id);

// Several examples per row (a packing plan's rows, data/packing.h), each row filled to
// `row_len` with `pad_id`. Position ids restart at 0 for each example; attention_bias is
// (B, 1, T, T) in `bias_dtype`: 0 where a query may attend (same example, key not after the
// query, and within `sliding_window` positions when it is > 0), the dtype's lowest finite value
// elsewhere (as the decoder's causal_bias). A padding position attends only to itself, so its
// softmax row is never empty and no NaN appears. invalid_input when a row's examples exceed
// row_len.
Batch make_packed_batch(const std::vector<std::vector<const data::TrainingExample*>>& rows,
                        int64_t row_len, int32_t pad_id, torch::Dtype bias_dtype,
                        int64_t sliding_window = 0);

// The batch with every tensor moved to `device` (non_blocking copies where possible).
Batch batch_to(const Batch& batch, torch::Device device);

}  // namespace llmtune::train
