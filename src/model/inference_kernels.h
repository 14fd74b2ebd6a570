// Fused CPU kernels for inference (no autograd): RMSNorm, rotary embedding and single-query
// attention. Decoding one token runs ~30 small torch ops per layer, and at 2 threads their
// dispatch costs as much as the weight reads; these fuse each group into one pass.
//
// Each kernel computes what the unfused torch code in decoder.cpp computes, in float, rounding
// to the tensor dtype where transformers' code rounds. Legend: B batch, n heads, T positions,
// S keys, hd head_dim.
#pragma once

#include <torch/torch.h>

namespace llmtune::model {

// Whether the fused kernels apply: CPU, f32 or bf16, and no gradient wanted.
bool use_inference_kernels(const torch::Tensor& x);

// w * (x / sqrt(mean(x^2) + eps)) over the last dimension; x any shape, contiguous or not.
torch::Tensor rms_norm_inference(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// x * cos + rotate_half(x) * sin for x (B, n, T, hd) (any strides), cos/sin (B, 1, T, hd).
// Returns a contiguous (B, n, T, hd) tensor.
torch::Tensor rope_inference(const torch::Tensor& x, const torch::Tensor& cos,
                             const torch::Tensor& sin);

// Softmax attention of one query position per head: q (B, nh, 1, hd), k/v (B, nkv, S, hd)
// (S-dimension stride hd), every key visible. Returns (B, nh, 1, hd).
torch::Tensor single_query_attention(const torch::Tensor& q, const torch::Tensor& k,
                                     const torch::Tensor& v, double scale);

}  // namespace llmtune::model
