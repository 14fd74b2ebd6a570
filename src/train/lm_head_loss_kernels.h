// The lm_head projection fused with a summed cross-entropy, for training: the (N, V) f32
// logits are never held whole, only one chunk of rows at a time (lm_head_loss_kernels.cpp says
// how and why).
//
// Legend for shape comments: N positions, H hidden size, V vocab.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace llmtune::train {

struct LmHeadLoss {
    torch::Tensor loss_sum;  // scalar f32, differentiable in h and w
    torch::Tensor correct;   // scalar int64: rows whose argmax logit is the target
};

// h (N, H) and w (V, H) in the model dtype, targets (N) int64 in [0, V). Equal (up to
// rounding) to cross_entropy(linear(h, w).float(), targets, reduction = sum). `chunk_rows`:
// rows per chunk, 0 picks about 16M logits per chunk.
LmHeadLoss lm_head_cross_entropy(const torch::Tensor& h, const torch::Tensor& w,
                                 const torch::Tensor& targets, int64_t chunk_rows = 0);

}  // namespace llmtune::train
