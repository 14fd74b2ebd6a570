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
//
// The trainer also uses it as its view of the process group: rank and world size (to take its
// slice of each global batch and let rank 0 alone write), a barrier (the other ranks wait while
// rank 0 writes a checkpoint) and a broadcast from rank 0 (the resume step, the initial
// weights). Overlap is optional: register_parameters is called once with the trained
// parameters, and before_last_backward just before the step's last backward, so an
// implementation can start all-reducing gradients as backward produces them.
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

    virtual int rank() const { return 0; }
    virtual int world_size() const { return 1; }
    // Returns once every rank has called it.
    virtual void barrier() {}
    // Overwrites `t` (same shape and dtype on every rank) with rank 0's value.
    virtual void broadcast_from_rank0(torch::Tensor& t) {}
    // Overlap hooks (see above); no-ops by default.
    virtual void register_parameters(const std::vector<torch::Tensor>& params) {}
    virtual void before_last_backward() {}
};

// One process: sums are the local values.
class LocalSync final : public GradientSync {
  public:
    double all_reduce_sum(double local) override { return local; }
    void all_reduce_gradients(const std::vector<torch::Tensor>&) override {}
};

}  // namespace llmtune::train
