// Peak memory of a training run as llmtune's trainer allocates it. Torch-free.
//
// Persistent: the weights (base dtype; LoRA adapters f32), the AdamW moments (2 x 4 bytes per
// trained parameter) and the process's own runtime (libtorch and the binary, measured by
// `llmtune bench device`). The gradients exist only from backward to the optimizer step
// (zero_grad drops them), so a step has two high points:
//
//   end of forward    every tensor autograd saved for backward, and the larger of the loss's
//                     buffers (the lm_head gradient prepared in forward, one chunk of logits)
//                     and one layer's attention scores being built (freed before the loss)
//   end of backward   every gradient (f32), what the loss saved in forward (held until the
//                     graph is released), the optimizer's temporaries and, for tied
//                     embeddings under full fine-tuning, the dense embedding gradient and
//                     its sum with the lm_head's
//
// and the peak is the larger. Saved activations per token and decoder layer, counted from
// what the decoder and autograd keep (model/decoder.cpp; H hidden, I intermediate, q and kv the
// projection widths, nh heads, T the padded row length, b the base dtype's bytes):
//
//   each RMSNorm   its input in f32 (4H) and rsqrt (4); full fine-tuning also the normalized
//                  value (4H) for the norm weight's gradient. A bf16 base (LoRA) runs the
//                  fused RMSNorm: its bf16 input (2H) and one f32 scale per row (4)
//   a projection   its input when its weight or adapter trains, once, in the base dtype (the
//                  adapters of a bf16 base compute in bf16, as under autocast)
//   attention      q, k, v after RoPE (b (q + 2kv)); the softmax output, f32 (4 nh T), or
//                  the fused softmax's bf16 probabilities (2 nh T) for a bf16 base -- the CPU
//                  build materializes T x T scores
//   MLP            gate output, its SiLU, the up output (3 b I); the fused SwiGLU of a bf16
//                  base keeps gate and up only (2 b I)
//   LoRA           the (.., r) intermediate of each adapter (4r)
//
// With gradient checkpointing a layer keeps only its input (b H); backward recomputes one layer
// at a time, so one layer's activations come back on top.
#pragma once

#include <cstdint>
#include <string>

#include "model/model_config.h"
#include "train/flop_model.h"

namespace llmtune::train {

struct MemoryShape {
    model::ModelConfig model;
    MethodShape method;
    int64_t weight_bytes = 4;         // base dtype: 4 (f32) or 2 (bf16)
    bool gradient_checkpointing = false;
    double lora_dropout = 0;
    bool packing = false;             // packed rows carry a (B, 1, T, T) mask
    // The largest micro-batch: rows, padded positions per row, target tokens in the batch.
    int64_t batch_rows = 1;
    int64_t positions = 1;
    int64_t batch_targets = 1;
    // The largest evaluation micro-batch (0 rows = no evaluation).
    int64_t eval_rows = 0;
    int64_t eval_positions = 0;
    int64_t eval_targets = 0;
    // false where attention is a fused kernel that keeps no T x T scores (torch >= 2.1 SDPA on
    // GPUs); true for the CPU build (torch 1.13 matmul + softmax).
    bool materialized_attention = true;
    double runtime_bytes = 0;         // the process before any model (measured), 0 on a GPU
    double dataset_bytes = 0;         // token ids of the examples held in memory
};

struct MemoryBreakdown {
    double runtime = 0;
    double dataset = 0;
    double weights = 0;          // base weights + adapters
    double optimizer = 0;        // AdamW moments
    double gradients = 0;
    double activations = 0;      // saved for backward, at the end of forward
    double loss_buffers = 0;     // lm_head gradient, logits chunk, hidden-state gradient
    double attention_transient = 0;
    double step_transient = 0;   // optimizer and clipping temporaries, embedding gradient
    double forward_peak = 0;     // the two high points of a step and the evaluation pass
    double backward_peak = 0;
    double eval_peak = 0;
    double peak = 0;
    std::string peak_phase;      // "forward" | "backward" | "evaluation"
};

// Activation bytes saved per token by one decoder layer (without checkpointing), for rows of
// `positions` padded positions.
double layer_activation_bytes_per_token(const MemoryShape& s, int64_t positions);

MemoryBreakdown estimate_memory(const MemoryShape& s);

}  // namespace llmtune::train
