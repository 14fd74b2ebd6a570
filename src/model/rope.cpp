#include "model/rope.h"

#include <cmath>

namespace llmtune::model {

namespace {
torch::Tensor default_inv_freq(int64_t dim, double base) {
    // 1 / base^(2i/dim), computed in float32 exactly as transformers does.
    auto exponent =
        torch::arange(0, dim, 2, torch::kInt64).to(torch::kFloat32) / static_cast<double>(dim);
    return 1.0 / torch::pow(torch::tensor(base, torch::kFloat32), exponent);
}
}  // namespace

Rope::Rope(const ModelConfig& cfg)
    : head_dim_(cfg.head_dim),
      theta_(cfg.rope_theta),
      scaling_(cfg.rope_scaling),
      max_positions_(cfg.max_position_embeddings) {
    auto inv = default_inv_freq(head_dim_, theta_);
    if (scaling_.type == "linear") {
        inv = inv / scaling_.factor;
    } else if (scaling_.type == "llama3") {
        // Long wavelengths are slowed by `factor`, short ones kept, the band between blended.
        const double old_ctx = static_cast<double>(scaling_.original_max_position_embeddings);
        const double low_wavelen = old_ctx / scaling_.low_freq_factor;
        const double high_wavelen = old_ctx / scaling_.high_freq_factor;
        auto wavelen = 2 * M_PI / inv;
        auto scaled = torch::where(wavelen > low_wavelen, inv / scaling_.factor, inv);
        auto smooth = (old_ctx / wavelen - scaling_.low_freq_factor) /
                      (scaling_.high_freq_factor - scaling_.low_freq_factor);
        auto smoothed = (1 - smooth) * scaled / scaling_.factor + smooth * scaled;
        auto medium = (wavelen >= high_wavelen) & (wavelen <= low_wavelen);
        inv = torch::where(medium, smoothed, scaled);
    }
    base_inv_freq_ = inv;
}

torch::Tensor Rope::inv_freq(int64_t seq_len) const {
    if (scaling_.type == "dynamic" && seq_len > max_positions_) {
        // NTK-aware: grow the base with the sequence length beyond the trained context.
        double f = scaling_.factor;
        double base = theta_ * std::pow(f * static_cast<double>(seq_len) / max_positions_ - (f - 1),
                                        static_cast<double>(head_dim_) / (head_dim_ - 2));
        return default_inv_freq(head_dim_, base);
    }
    return base_inv_freq_;
}

std::pair<torch::Tensor, torch::Tensor> Rope::cos_sin(const torch::Tensor& positions,
                                                      torch::Dtype dtype) const {
    int64_t seq_len = positions.numel() ? positions.max().item<int64_t>() + 1 : 0;
    auto inv = inv_freq(seq_len).to(positions.device());
    auto freqs = positions.to(torch::kFloat32).unsqueeze(-1) * inv;  // (B, T, hd/2)
    auto emb = torch::cat({freqs, freqs}, -1).unsqueeze(1);          // (B, 1, T, hd)
    return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

torch::Tensor Rope::apply(const torch::Tensor& x, const torch::Tensor& cos,
                          const torch::Tensor& sin) {
    int64_t half = x.size(-1) / 2;
    auto x1 = x.narrow(-1, 0, half);
    auto x2 = x.narrow(-1, half, half);
    auto rotated = torch::cat({-x2, x1}, -1);
    return x * cos + rotated * sin;
}

}  // namespace llmtune::model
