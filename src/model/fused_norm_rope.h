// RMSNorm and rotary embeddings as autograd Functions with f32 arithmetic inside, for the bf16
// training forward.
//
// Why: unfused, RMSNorm records cast to f32, pow, mean, add, rsqrt, mul, cast back and mul,
// and keeps f32 copies of its input for backward; RoPE records narrow, neg, cat, two
// products and a sum, and its backward pads slices with zeros and copies them back. Each is
// one pass forward and one backward here, and RMSNorm saves only its bf16 input and one f32
// scale per row. Rows run in parallel (at::parallel_for), 16 lanes at a time on AVX-512.
//
// Legend: B batch, T positions, nh heads, hd head_dim, H features.
#pragma once

#include <torch/torch.h>

namespace llmtune::model {

// weight * (x * rsqrt(mean(x^2, -1) + eps)) over the last dim, as transformers' LlamaRMSNorm
// (normalised in f32), one rounding to x's dtype. x (..., H) bf16 or f32; weight (H) of x's
// dtype and not requiring grad. Differentiable with respect to x.
torch::Tensor fused_rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps);
bool fused_rms_norm_supports(const torch::Tensor& x, const torch::Tensor& weight);

// x * cos + rotate_half(x) * sin (Rope::apply), one rounding to x's dtype. x (B, nh, T, hd)
// with unit stride in hd, any other strides (a transposed (B, T, nh, hd) projection);
// cos/sin (B or 1, 1, T, hd) of x's dtype. Returns (B, nh, T, hd) contiguous.
// Differentiable with respect to x.
torch::Tensor fused_rope(const torch::Tensor& x, const torch::Tensor& cos,
                         const torch::Tensor& sin);
bool fused_rope_supports(const torch::Tensor& x, const torch::Tensor& cos,
                         const torch::Tensor& sin);

}  // namespace llmtune::model
