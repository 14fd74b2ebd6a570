// Rotary position embeddings, as transformers computes them, with the linear, dynamic (NTK)
// and llama3 frequency scalings.
//
// Legend: B batch, T sequence positions, hd head_dim, nh heads.
#pragma once

#include <torch/torch.h>

#include "model/model_config.h"

namespace llmtune::model {

class Rope {
  public:
    explicit Rope(const ModelConfig& cfg);

    // cos and sin for the given positions, each (B, 1, T, hd) in `dtype` on positions' device.
    std::pair<torch::Tensor, torch::Tensor> cos_sin(const torch::Tensor& positions,
                                                    torch::Dtype dtype) const;

    // x * cos + rotate_half(x) * sin, for x of shape (B, nh, T, hd).
    static torch::Tensor apply(const torch::Tensor& x, const torch::Tensor& cos,
                               const torch::Tensor& sin);

    // The inverse frequencies (hd/2,) in float32 for a sequence reaching `seq_len`.
    torch::Tensor inv_freq(int64_t seq_len) const;

  private:
    int64_t head_dim_;
    double theta_;
    RopeScaling scaling_;
    int64_t max_positions_;
    torch::Tensor base_inv_freq_;  // static part (linear/llama3 applied); dynamic recomputes
};

}  // namespace llmtune::model
