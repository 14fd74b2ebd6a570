// Training FLOPs of a decoder as llmtune computes it, per row of a micro-batch. Torch-free.
//
// A matmul with a weight of n parameters costs 2n FLOPs per token forward, 2n for the gradient
// of its input and 2n for the gradient of its weight. So per token:
//
//   frozen weight (LoRA base)   4n   forward + input gradient
//   trained weight (full)       6n   forward + input and weight gradients
//   LoRA adapter pair A, B      6 r (in + out)
//   attention scores            12 L nh hd T: QK^T and PV (2 x 2 nh hd T each, forward) and
//                               their two input gradients; llmtune's CPU attention computes the
//                               whole T x T square, masked, so T is the row's padded length
//
// The lm_head runs only on the positions that have a target (train/loss.cpp), so its FLOPs
// count target tokens, not positions. Gradient checkpointing recomputes each decoder layer's
// forward in backward: + 2n per layer weight and + 4 L nh hd T per token. Evaluation is a
// forward pass only: 2n + 4 L nh hd T per token, lm_head per target.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/model_config.h"

namespace llmtune::train {

// The method as the estimator needs it.
struct MethodShape {
    bool lora = true;
    int64_t lora_r = 8;
    // Resolved projection names (q_proj ... down_proj); see resolve_lora_targets.
    std::vector<std::string> lora_targets;
};

// "all-linear" and short forms (q, k, v, o, gate, up, down) to the full projection names, in
// decoder order; invalid_input naming an unknown target.
std::vector<std::string> resolve_lora_targets(const std::vector<std::string>& targets);

// Parameter counts by role.
struct ParameterCounts {
    int64_t total = 0;            // as model::count_parameters (tied embeddings once)
    int64_t layer_matmul = 0;     // every projection weight of every decoder layer
    int64_t lm_head = 0;          // V x H (the embedding matrix when tied)
    int64_t trainable = 0;        // full: total; LoRA: the adapters
    int64_t lora = 0;             // adapter parameters (0 for full)
};
ParameterCounts count_parameter_roles(const model::ModelConfig& cfg, const MethodShape& method);

// FLOPs of one row of `positions` padded positions with `targets` target tokens.
struct RowFlops {
    double layers = 0;     // decoder-layer matmuls (incl. LoRA, recompute)
    double attention = 0;  // score and PV matmuls
    double lm_head = 0;
    double total() const { return layers + attention + lm_head; }
};
RowFlops train_row_flops(const model::ModelConfig& cfg, const MethodShape& method,
                         int64_t positions, int64_t targets, bool gradient_checkpointing);
RowFlops eval_row_flops(const model::ModelConfig& cfg, int64_t positions, int64_t targets);

}  // namespace llmtune::train
