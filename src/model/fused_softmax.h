// The attention softmax as one autograd Function: probs = softmax(scores * scale + bias) over
// the last dimension, with f32 arithmetic inside and the result in scores' dtype.
//
// Why: the unfused chain (scale in place, add the bias, softmax to f32, cast back) writes the
// (B, nkv, g*T, S) scores four times forward and keeps an f32 copy of the probabilities for
// backward, whose gradient is cast to f32 and back again. Here forward reads the scores once
// and writes the probabilities once; backward reads the probabilities and their gradient once
// and writes the scores' gradient once, and only the probabilities (in the scores' dtype) are
// saved. Rows run in parallel (at::parallel_for), 16 lanes at a time on AVX-512.
//
// Legend: B batch, R rows per batch element (here nkv * g * T), T query positions, S keys.
#pragma once

#include <torch/torch.h>

namespace llmtune::model {

// scores (B, ..., S), bf16 or f32; the rows of batch element b are laid out with the query
// position fastest-varying but one: row r of b (0 <= r < R) is query position r % T.
// bias: additive (B or 1, 1, T, S), any floating dtype, not requiring grad; or undefined.
// Returns (B, ..., S) in scores' dtype. Differentiable with respect to scores.
torch::Tensor scaled_masked_softmax(const torch::Tensor& scores, const torch::Tensor& bias,
                                    int64_t t, double scale);

// Whether scaled_masked_softmax takes these arguments (dtype, bias shape), so that callers
// can keep their unfused path for anything else.
bool scaled_masked_softmax_supports(const torch::Tensor& scores, const torch::Tensor& bias,
                                    int64_t t);

namespace detail {
// For tests: run the portable (non-AVX-512) kernels even on an AVX-512 CPU.
void force_scalar_kernels(bool on);
bool scalar_kernels_forced();
// Whether the fused kernels (softmax, SwiGLU, RMSNorm, RoPE) take their AVX-512 path: the CPU
// has it and the tests have not forced the portable one.
bool use_avx512_kernels();
}  // namespace detail

}  // namespace llmtune::model
