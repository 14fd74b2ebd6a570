// One optimizer step of training, and one pass of evaluation: the pure core of the trainer.
//
// A StepRunner holds references to the model, the optimizer and the schedule and no state of
// its own, so a data-parallel wrapper can drive it with its own GradientSync (gradient_sync.h).
//
// The loss of a step is the mean cross-entropy over every target token of the step (all its
// micro-batches, on all ranks): each micro-batch's summed loss is divided by the step's total
// target-token count before backward, as transformers does with num_items_in_batch. So the
// gradient is the same whatever the split into micro-batches.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "model/decoder.h"
#include "train/adamw.h"
#include "train/batch.h"
#include "train/gradient_sync.h"
#include "train/lr_schedule.h"

namespace llmtune::train {

struct StepOutput {
    double loss = 0;      // mean over the step's target tokens
    double accuracy = 0;  // fraction of target tokens whose argmax logit is the target
    int64_t target_tokens = 0;
    int64_t tokens = 0;    // non-padding tokens processed
    double grad_norm = 0;  // before clipping
    double lr = 0;         // the learning rate this step used
    bool finite = true;    // false: loss or gradient not finite; no update was made
};

class StepRunner {
  public:
    // max_grad_norm 0 = no clipping (the norm is still measured).
    StepRunner(model::CausalLM& lm, AdamW& optimizer, const LrSchedule& schedule,
               double max_grad_norm, GradientSync& sync);

    // Forward + backward over `micro_batches` (empty only on a data-parallel rank with no rows
    // this step), gradient sync, clipping and the AdamW update.
    // When the loss or the gradient norm is not finite, the gradients are dropped, nothing is
    // updated and `finite` is false: the caller stops with an error naming the step.
    StepOutput step(const std::vector<Batch>& micro_batches);

  private:
    model::CausalLM& lm_;
    AdamW& optimizer_;
    const LrSchedule& schedule_;
    double max_grad_norm_;
    GradientSync& sync_;
    std::vector<torch::Tensor> params_;
};

struct EvalOutput {
    double loss = 0;  // mean over the target tokens
    double accuracy = 0;
    int64_t target_tokens = 0;
};

// The loss and token accuracy over `batches`, without gradients (dropout off).
EvalOutput evaluate(model::CausalLM& lm, const std::vector<Batch>& batches, GradientSync& sync);

}  // namespace llmtune::train
