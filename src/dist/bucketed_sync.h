// GradientSync over a c10d process group (train/gradient_sync.h): data-parallel training's
// gradient all-reduce, in buckets, started while backward still runs.
//
// Buckets: the trained parameters, in reverse registration order (backward produces the last
// layers' gradients first), are cut into buckets of about bucket_bytes (25 MiB by default, as
// DDP) of one dtype each. A bucket is one flat buffer: its gradients, then one flag per
// parameter (1 when this rank has a gradient for it). The flags are summed with the rest, so
// a parameter no rank has a gradient for keeps an undefined gradient (AdamW then skips it, as
// in one process), and a rank without data this step (a short last batch) still takes part.
//
// Overlap: each parameter's gradient accumulator gets a post hook (c10d's Reducer uses the
// same autograd API); during the step's last backward it marks the gradient ready, and a
// bucket's all-reduce is launched as soon as all of its gradients are ready and every earlier
// bucket has been launched, so every rank launches the same collectives in the same order.
// Buckets whose gradients never became ready (or every bucket, with overlap off or on a rank
// that had no data) are launched from all_reduce_gradients, which then waits for all of them
// and copies the sums back into the gradients.
//
// Ordering, cancellation and crash behaviour: everything runs on the training thread (the
// hooks run inside backward on it); the collectives run on the backend's threads. A failed or
// timed-out collective throws Error{io} from the wait (process_group.h). The hooks are removed
// when the sync is destroyed; it must outlive no model whose backward could still run.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "dist/process_group.h"
#include "train/gradient_sync.h"

namespace llmtune::dist {

struct SyncOptions {
    int64_t bucket_bytes = 25ll << 20;  // target bucket size
    bool overlap = true;                // launch buckets from backward hooks
};

// LLMTUNE_DIST_BUCKET_MB (a positive number, default 25) and LLMTUNE_DIST_OVERLAP (0 or 1,
// default 1). invalid_input when malformed.
SyncOptions sync_options_from_process();

// Where the step's time went, accumulated over the sync's life.
struct SyncStats {
    double exposed_comm_s = 0;  // time the training thread spent inside sync calls (waiting
                                // for all-reduces, copying sums back, scalar all-reduces)
    int64_t buckets_launched = 0;
    int64_t buckets_launched_in_backward = 0;  // of those, by the overlap hooks
    int64_t gradient_syncs = 0;
};

class DistributedSync final : public train::GradientSync {
  public:
    DistributedSync(ProcessGroup& group, SyncOptions options = {});
    ~DistributedSync() override;

    double all_reduce_sum(double local) override;
    void all_reduce_gradients(const std::vector<torch::Tensor>& grads) override;
    int rank() const override { return group_.rank(); }
    int world_size() const override { return group_.world_size(); }
    void barrier() override;
    void broadcast_from_rank0(torch::Tensor& t) override;
    void register_parameters(const std::vector<torch::Tensor>& params) override;
    void before_last_backward() override;

    const SyncStats& stats() const { return stats_; }
    // Each bucket's parameter indices (into the registered list), in launch order.
    std::vector<std::vector<size_t>> bucket_layout() const;

    // Called by the autograd hooks.
    void on_gradient_ready(size_t param_index);

  private:
    struct Bucket;
    void launch(Bucket& b);
    void launch_ready_buckets();

    ProcessGroup& group_;
    SyncOptions options_;
    SyncStats stats_;
    std::vector<torch::Tensor> params_;
    std::vector<std::unique_ptr<Bucket>> buckets_;
    std::vector<size_t> bucket_of_;  // param index -> bucket index
    std::vector<bool> ready_;        // param index -> gradient ready in this backward
    size_t next_launch_ = 0;
    bool armed_ = false;
    // The hooked accumulators (held: a variable keeps its accumulator only weakly) and keys.
    std::vector<std::shared_ptr<torch::autograd::Node>> accumulators_;
    std::vector<uintptr_t> hook_keys_;
};

}  // namespace llmtune::dist
