// SwiGLU, silu(gate) * up, as one autograd Function with f32 arithmetic inside.
//
// Why: the unfused pair (silu, then mul) writes silu(gate) as a separate (B, T, I) tensor,
// keeps it for the product's backward, and runs three elementwise passes backward (silu's
// backward and two products). Here forward is one pass and saves only gate and up (which the
// unfused chain saves too); backward is one pass that writes both input gradients. Elements
// run in parallel (at::parallel_for), 16 lanes at a time on AVX-512.
//
// Legend: B batch, T positions, I intermediate size.
#pragma once

#include <torch/torch.h>

namespace llmtune::model {

// gate and up of the same shape and dtype (bf16 or f32), e.g. (B, T, I). Differentiable with
// respect to both; the result has their shape and dtype.
torch::Tensor swiglu(const torch::Tensor& gate, const torch::Tensor& up);

// Whether swiglu takes these arguments; callers keep silu(gate) * up for anything else.
bool swiglu_supports(const torch::Tensor& gate, const torch::Tensor& up);

}  // namespace llmtune::model
