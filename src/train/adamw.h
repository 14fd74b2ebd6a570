// AdamW over named parameters, with state that saves and resumes bit-exactly.
//
// The update is PyTorch's torch.optim.AdamW (Loshchilov & Hutter, "Decoupled Weight Decay
// Regularization"), per parameter p with gradient g, step t (1-based, per parameter) and the
// learning rate lr of this step:
//
//   p   <- p * (1 - lr * wd)                  decoupled weight decay (wd = 0 for no-decay names)
//   m   <- b1 * m + (1 - b1) * g
//   v   <- b2 * v + (1 - b2) * g^2
//   p   <- p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
//
// which is lr * m_hat / (sqrt(v_hat) + eps) with the bias-corrected moments, written in the
// order torch evaluates it. A parameter whose gradient is undefined is skipped, its step count
// included, as torch does.
//
// Weight decay applies only to parameters for which applies_weight_decay() is true: never to
// 1-D tensors (every norm weight and bias is 1-D), nor to names ending in "norm.weight" (which
// covers "layernorm.weight", "input_layernorm.weight", "model.norm.weight", "q_norm.weight")
// or ".bias", whatever their shape. Embeddings, projections and LoRA A/B matrices decay.
//
// State precision: the moments are kept in f32 for f32, bf16 and f16 parameters and in f64 for
// f64 parameters. A bf16 parameter is updated in f32 (read, decayed, stepped) and rounded back
// to bf16 once per step, so the result equals an f32 run whose parameter is rounded to bf16
// after every step.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "model/safetensors.h"

namespace llmtune::train {

struct AdamWConfig {
    double lr = 1e-4;           // peak learning rate, > 0; the schedule scales it per step
    double beta1 = 0.9;         // first-moment decay, in [0, 1)
    double beta2 = 0.999;       // second-moment decay, in [0, 1)
    double eps = 1e-8;          // added to the denominator, > 0
    double weight_decay = 0.0;  // decoupled decay coefficient, >= 0 (torch's default is 0.01)

    // invalid_input naming every bad field (lr, beta1, beta2, eps, weight_decay).
    void validate() const;
};

// The no-decay rule above.
bool applies_weight_decay(const std::string& name, const torch::Tensor& param);

class AdamW {
  public:
    // `params`: the trainable parameters with their (unique) names, on any device, floating
    // point. invalid_input for an empty list, a duplicate name, an undefined or non-floating
    // tensor, or a bad config. The moments are allocated here, zeroed.
    AdamW(model::NamedTensors params, AdamWConfig config);

    // One update with learning rate `lr` (config().lr times the schedule's factor), using each
    // parameter's .grad(). Runs without autograd recording. lr must be finite and >= 0.
    void step(double lr);
    // Sets every parameter's gradient to undefined.
    void zero_grad();

    // Number of step() calls so far (the schedule's step index for the next call).
    int64_t step_count() const { return step_count_; }
    const AdamWConfig& config() const { return config_; }
    const model::NamedTensors& params() const { return params_; }

    // The state, for write_safetensors: "step" (I64, shape {1}) and, per parameter name N,
    // "exp_avg.N" and "exp_avg_sq.N" (the moments, in the state dtype, parameter shape) and
    // "step.N" (I64, shape {1}). The tensors are CPU copies.
    model::NamedTensors state_dict() const;
    // Restores state written by state_dict() of an optimizer over the same parameter names and
    // shapes. Checks every name, shape and dtype first and reports all problems in one
    // invalid_input error; on error nothing is changed.
    void load_state_dict(const model::NamedTensors& state);

  private:
    struct Slot {
        std::string name;
        torch::Tensor param;
        torch::Tensor exp_avg;     // m, state dtype, on the parameter's device
        torch::Tensor exp_avg_sq;  // v
        int64_t step = 0;
        bool decay = true;
    };
    AdamWConfig config_;
    model::NamedTensors params_;
    std::vector<Slot> slots_;
    int64_t step_count_ = 0;
};

}  // namespace llmtune::train
