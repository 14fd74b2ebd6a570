// The seam where data-parallel training plugs into the optimizer step.
//
// The single-process trainer uses LocalSync, which changes nothing. A data-parallel wrapper
// (the distributed issue: one process per rank, c10d) implements GradientSync with
// all-reduces; the step calls it at exactly two points:
//
//   1. before any forward pass, all_reduce_sum over the step's target-token count, so that
//      every rank divides its summed loss by the global count (the loss is then the mean over
//      every target token of the global batch, whatever the split across ranks);
//   2. after the last micro-batch's backward and before clipping, all_reduce_gradients, which
//      must leave every rank with the sum of all ranks' gradients.
//
// Metric sums (loss, correct tokens) go through all_reduce_sum too, so every rank logs the
// global figures. Implementations must be called by every rank in the same order.
#pragma once

#include <torch/torch.h>

#include <vector>

namespace llmtune::train {

class GradientSync {
  public:
    virtual ~GradientSync() = default;
    // The sum of `local` over all ranks.
    virtual double all_reduce_sum(double local) = 0;
    // Sums each gradient tensor over all ranks, in place.
    virtual void all_reduce_gradients(const std::vector<torch::Tensor>& grads) = 0;
};

// One process: sums are the local values.
class LocalSync final : public GradientSync {
  public:
    double all_reduce_sum(double local) override { return local; }
    void all_reduce_gradients(const std::vector<torch::Tensor>&) override {}
};

}  // namespace llmtune::train
