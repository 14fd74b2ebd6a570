// The shapes of every optimizer step of a run, as the trainer will build them: the rows are
// visited in the same seeded order (train/data_order.h), batch_size rows per micro-batch,
// gradient_accumulation_steps micro-batches per step, never spanning two epochs; a padded
// micro-batch is as wide as its longest row, a packed one is max_seq_len wide. Torch-free.
#pragma once

#include <cstdint>
#include <vector>

namespace llmtune::train {

struct RowShape {
    int64_t tokens = 0;   // real tokens of the row
    int64_t targets = 0;  // tokens with a loss
};

struct MicroBatchShape {
    int64_t rows = 0;
    int64_t positions = 0;  // padded width of every row
    int64_t tokens = 0;     // real tokens
    int64_t targets = 0;
};

struct StepPlan {
    std::vector<std::vector<MicroBatchShape>> steps;  // micro-batches of each optimizer step
    std::vector<MicroBatchShape> eval_batches;       // one evaluation pass
    int64_t evaluations = 0;                         // passes over the validation rows
    int64_t steps_per_epoch = 0;
};

struct StepPlanOptions {
    int64_t batch_size = 4;
    int64_t gradient_accumulation_steps = 1;
    int64_t epochs = 1;
    int64_t max_steps = 0;  // > 0 overrides epochs
    int64_t eval_steps = 0;
    bool packing = false;
    int64_t max_seq_len = 1024;
    uint64_t seed = 42;
};

// invalid_input when there are no training rows.
StepPlan plan_steps(const std::vector<RowShape>& train_rows, const std::vector<RowShape>& valid_rows,
                    const StepPlanOptions& options);

}  // namespace llmtune::train
