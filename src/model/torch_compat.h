// Differences between the libtorch versions llmtune builds against: Debian's 1.13 (CPU) and
// 2.x (CUDA). Everything version-specific lives here, guarded by TORCH_VERSION_MAJOR.
#pragma once

#include <torch/torch.h>
#include <torch/version.h>

#include "model/fused_softmax.h"

namespace llmtune::model::compat {

// Grouped-query softmax attention.
//   q: (B, nh, T, hd)   k, v: (B, nkv, S, hd) with nh = g * nkv
//   bias: additive, broadcastable to (B, 1, T, S), or undefined for no mask
// Returns (B, nh, T, hd). Softmax runs in float32, as transformers' eager attention does
// (fused for bf16 under torch < 2.1: model/fused_softmax.h).
inline torch::Tensor grouped_attention(const torch::Tensor& q, const torch::Tensor& k,
                                       const torch::Tensor& v, const torch::Tensor& bias,
                                       double scale) {
    const int64_t b = q.size(0), nh = q.size(1), t = q.size(2), hd = q.size(3);
    const int64_t nkv = k.size(1), s = k.size(2), g = nh / nkv;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
    // torch 2.1+ has a fused kernel (with the `scale` argument); it wants as many key heads as
    // query heads.
    auto ke = k.unsqueeze(2).expand({b, nkv, g, s, hd}).reshape({b, nh, s, hd});
    auto ve = v.unsqueeze(2).expand({b, nkv, g, s, hd}).reshape({b, nh, s, hd});
    // An undefined tensor is not "no mask" to SDPA: pass nullopt instead. c10::optional is an
    // alias of std::optional from torch 2.4 on, deprecated for removal since.
#if TORCH_VERSION_MAJOR > 2 || TORCH_VERSION_MINOR >= 4
    std::optional<at::Tensor> mask;
#else
    c10::optional<at::Tensor> mask;
#endif
    if (bias.defined()) mask = bias.to(q.scalar_type());
    return at::scaled_dot_product_attention(q, ke, ve, mask, 0.0, false, scale);
#else
    // Fold the g query heads that share a key head into the row dimension, so keys and values
    // are read once per group instead of being copied g times.
    auto qg = q.reshape({b, nkv, g * t, hd});
    auto scores = torch::matmul(qg, k.transpose(-2, -1));  // (B, nkv, g*T, S)
    // bf16: scale, bias and softmax in one pass with f32 arithmetic (model/fused_softmax.h),
    // instead of an f32 copy of the scores and a cast back. f32 keeps the unfused chain.
    if (q.scalar_type() == torch::kBFloat16 && scaled_masked_softmax_supports(scores, bias, t))
        return torch::matmul(scaled_masked_softmax(scores, bias, t, scale), v).view({b, nh, t, hd});
    scores.mul_(scale);
    if (bias.defined())
        scores = (scores.view({b, nkv, g, t, s}) + bias.unsqueeze(1)).view({b, nkv, g * t, s});
    auto probs = torch::softmax(scores, -1, torch::kFloat32).to(q.scalar_type());
    return torch::matmul(probs, v).view({b, nh, t, hd});
#endif
}

// Whether this build can run on CUDA (Debian's 1.13 is CPU-only, and says so here).
inline bool cuda_available() {
    return torch::cuda::is_available();
}

}  // namespace llmtune::model::compat
