#include "train/train_step.h"

#include <cmath>

#include "common/error.h"
#include "train/grad_clip.h"
#include "train/loss.h"

namespace llmtune::train {

StepRunner::StepRunner(model::CausalLM& lm, AdamW& optimizer, const LrSchedule& schedule,
                       double max_grad_norm, GradientSync& sync)
    : lm_(lm),
      optimizer_(optimizer),
      schedule_(schedule),
      max_grad_norm_(max_grad_norm),
      sync_(sync) {
    for (const auto& [name, t] : optimizer.params())
        params_.push_back(t);
    sync_.register_parameters(params_);
}

StepOutput StepRunner::step(const std::vector<Batch>& micro_batches) {
    // A data-parallel rank may have no rows in a short last batch; it still takes part in
    // every collective. One process always has at least one micro-batch.
    LLMTUNE_ASSERT(!micro_batches.empty() || sync_.world_size() > 1,
                   "a step has at least one micro-batch");
    StepOutput out;
    int64_t local_targets = 0, local_tokens = 0;
    for (const auto& b : micro_batches) {
        local_targets += b.target_tokens;
        local_tokens += b.tokens;
    }
    // Sync point 1: the global target count every rank divides by.
    const double global_targets = sync_.all_reduce_sum(static_cast<double>(local_targets));
    LLMTUNE_ASSERT(global_targets > 0, "examples without targets are dropped before training");

    lm_->train();
    optimizer_.zero_grad();
    double loss_sum = 0, correct = 0;
    for (size_t i = 0; i < micro_batches.size(); ++i) {
        const Batch& b = micro_batches[i];
        LossSums sums = causal_lm_loss(lm_, b);
        if (i + 1 == micro_batches.size()) sync_.before_last_backward();
        (sums.loss_sum / global_targets).backward();
        loss_sum += sums.loss_sum.detach().item<double>();
        correct += static_cast<double>(sums.correct.item<int64_t>());
    }
    // Sync point 2: every rank ends up with the sum of all ranks' gradients.
    std::vector<torch::Tensor> grads;
    for (const auto& p : params_)
        if (p.grad().defined()) grads.push_back(p.grad());
    sync_.all_reduce_gradients(grads);

    out.loss = sync_.all_reduce_sum(loss_sum) / global_targets;
    out.accuracy = sync_.all_reduce_sum(correct) / global_targets;
    out.target_tokens = static_cast<int64_t>(global_targets);
    out.tokens = static_cast<int64_t>(sync_.all_reduce_sum(static_cast<double>(local_tokens)));
    const GradNorm norm =
        max_grad_norm_ > 0 ? clip_grad_norm(params_, max_grad_norm_) : grad_norm(params_);
    out.grad_norm = norm.norm;
    out.lr = optimizer_.config().lr * schedule_.factor(optimizer_.step_count());
    if (!std::isfinite(out.loss) || !norm.finite) {
        out.finite = false;
        optimizer_.zero_grad();
        return out;
    }
    optimizer_.step(out.lr);
    optimizer_.zero_grad();
    return out;
}

EvalOutput evaluate(model::CausalLM& lm, const std::vector<Batch>& batches, GradientSync& sync) {
    torch::NoGradGuard no_grad;
    const bool was_training = lm->is_training();
    lm->eval();
    double loss_sum = 0, correct = 0, targets = 0;
    for (const auto& b : batches) {
        LossSums sums = causal_lm_loss(lm, b);
        loss_sum += sums.loss_sum.item<double>();
        correct += static_cast<double>(sums.correct.item<int64_t>());
        targets += static_cast<double>(b.target_tokens);
    }
    if (was_training) lm->train();
    EvalOutput out;
    targets = sync.all_reduce_sum(targets);
    out.target_tokens = static_cast<int64_t>(targets);
    if (targets > 0) {
        out.loss = sync.all_reduce_sum(loss_sum) / targets;
        out.accuracy = sync.all_reduce_sum(correct) / targets;
    }
    return out;
}

}  // namespace llmtune::train
