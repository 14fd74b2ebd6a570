// Gradient clipping by the total L2 norm, as torch.nn.utils.clip_grad_norm_ does it.
//
// The total norm is the L2 norm of the per-tensor L2 norms of every defined gradient,
// computed in f32 (f64 for f64 gradients; bf16 and f16 gradients are upcast, never summed in
// their own precision). When it exceeds max_norm, every gradient is multiplied by
// max_norm / (total + 1e-6), torch's coefficient.
//
// A non-finite total norm (a NaN or inf in any gradient) is reported as a flag, not an error:
// the gradients are left unchanged and the caller must not take the optimizer step. The trainer
// knows the step number and the last good checkpoint, which its error has to name; this
// function does not. The result is [[nodiscard]] so the flag cannot be dropped silently.
#pragma once

#include <torch/torch.h>

#include <vector>

namespace llmtune::train {

struct [[nodiscard]] GradNorm {
    double norm = 0;       // the total norm before clipping (NaN or inf when not finite)
    bool finite = true;    // false: gradients untouched, do not step
    bool clipped = false;  // whether the gradients were scaled
};

// The total norm without changing anything. Parameters without a gradient are skipped; none
// at all gives 0.
GradNorm grad_norm(const std::vector<torch::Tensor>& params);

// Clips to `max_norm` (finite, > 0; invalid_input naming max_grad_norm otherwise).
GradNorm clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm);

}  // namespace llmtune::train
