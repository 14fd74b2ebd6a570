#include "train/step_plan.h"

#include <algorithm>

#include "common/error.h"
#include "train/data_order.h"

namespace llmtune::train {

namespace {

MicroBatchShape shape_of(const std::vector<RowShape>& rows, const std::vector<int64_t>& ids,
                         const StepPlanOptions& o) {
    MicroBatchShape m;
    m.rows = static_cast<int64_t>(ids.size());
    for (int64_t id : ids) {
        const auto& r = rows[static_cast<size_t>(id)];
        m.tokens += r.tokens;
        m.targets += r.targets;
        m.positions = std::max(m.positions, r.tokens);
    }
    if (o.packing) m.positions = o.max_seq_len;
    return m;
}

}  // namespace

StepPlan plan_steps(const std::vector<RowShape>& train_rows, const std::vector<RowShape>& valid_rows,
                    const StepPlanOptions& o) {
    if (train_rows.empty()) throw_invalid("no training rows to plan", "check the training data");
    StepPlan plan;
    DataOrder order(static_cast<int64_t>(train_rows.size()), o.batch_size, o.seed);
    const int64_t accum = std::max<int64_t>(1, o.gradient_accumulation_steps);
    plan.steps_per_epoch = (order.batches_per_epoch() + accum - 1) / accum;
    const int64_t total = o.max_steps > 0 ? o.max_steps : o.epochs * plan.steps_per_epoch;
    plan.steps.reserve(static_cast<size_t>(total));
    for (int64_t s = 0; s < total; ++s) {
        std::vector<MicroBatchShape> micro;
        for (int64_t k = 0; k < accum; ++k) {
            micro.push_back(shape_of(train_rows, order.next_batch(), o));
            if (order.position().batch == 0) break;  // a step never spans two epochs
        }
        plan.steps.push_back(std::move(micro));
    }
    for (size_t begin = 0; begin < valid_rows.size(); begin += static_cast<size_t>(o.batch_size)) {
        std::vector<int64_t> ids;
        for (size_t i = begin; i < std::min(valid_rows.size(), begin + static_cast<size_t>(o.batch_size)); ++i)
            ids.push_back(static_cast<int64_t>(i));
        plan.eval_batches.push_back(shape_of(valid_rows, ids, o));
    }
    if (!valid_rows.empty()) {
        // Every eval_steps steps, and once at the end unless the last step was one of them.
        plan.evaluations = o.eval_steps > 0 ? total / o.eval_steps + (total % o.eval_steps != 0) : 1;
    }
    return plan;
}

}  // namespace llmtune::train
