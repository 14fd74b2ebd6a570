// Estimates before launch: training FLOPs, wall time, peak memory, cost, and whether the run
// fits the target's memory -- with the nearest settings that do when it does not. Torch-free,
// so the service layer can call it (the caller supplies the row shapes: `llmtune estimate`
// tokenizes the dataset as training would; rows_from_token_stats approximates them from a
// dataset's token statistics).
//
// Time on a measured profile (the local machine): the step-time model fitted to measured runs
// (step_time_model.h). A catalog entry has only data-sheet peaks and there are no measured GPU
// runs to fit yet, so its time is a lower bound (FLOPs / peak FLOP/s of all its accelerators)
// and says so; the cost follows the same basis.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/json_file.h"
#include "model/model_config.h"
#include "train/flop_model.h"
#include "train/hardware_profile.h"
#include "train/memory_model.h"
#include "train/step_plan.h"
#include "train/step_time_model.h"

namespace llmtune::train {

struct EstimateRequest {
    model::ModelConfig model;
    MethodShape method;          // lora_targets resolved
    double lora_dropout = 0;
    int64_t weight_bytes = 4;    // base dtype: 4 = f32, 2 = bf16
    bool gradient_checkpointing = false;
    // Whether suggestions may name these settings (a caller that cannot set them turns them
    // off, so that every suggestion can be applied).
    bool suggest_checkpointing = true;
    bool suggest_bf16 = true;
    StepPlanOptions plan;
    std::vector<RowShape> train_rows, valid_rows;
    bool rows_approximate = false;  // rows from summary statistics, not the tokenized data
    double dataset_bytes = 0;       // token ids held in memory by the trainer
};

// Rows of `mean_tokens` tokens (`trainable_fraction` of them targets) for `count` examples;
// with packing, ceil(total / max_seq_len) full rows. For callers that have only statistics.
std::vector<RowShape> rows_from_token_stats(int64_t count, double mean_tokens,
                                            double trainable_fraction, int64_t max_seq_len,
                                            bool packing);

struct Suggestion {
    std::string change;   // "gradient_checkpointing: true, batch_size: 2 (accumulation 8)"
    ordered_json settings;
    double peak_bytes = 0;
    double total_s = 0;
};

struct Estimate {
    HardwareProfile hardware;
    int64_t total_steps = 0;
    int64_t train_tokens = 0;      // real tokens over all steps
    int64_t train_positions = 0;   // padded positions computed
    int64_t target_tokens = 0;
    int64_t trainable_parameters = 0;
    int64_t total_parameters = 0;
    double train_flops = 0;
    double eval_flops = 0;
    double train_s = 0, eval_s = 0, overhead_s = 0, total_s = 0;
    double utilization = 0;        // GEMM-rate seconds / predicted seconds (measured profiles)
    bool time_known = true;        // false: the hardware has no FLOP/s figure
    bool time_lower_bound = false;
    std::string time_basis;
    MemoryBreakdown memory;        // at the largest step shape
    double memory_capacity = 0;    // bytes usable (per accelerator)
    bool fits = true;
    std::string verdict;           // one line: fits, or why not
    std::optional<double> cost_usd;
    std::vector<Suggestion> suggestions;

    ordered_json to_json() const;
};

// The share of memory the estimate may fill: the rest is left to the OS, the allocator's
// fragmentation and other processes.
constexpr double kUsableMemoryFraction = 0.9;

Estimate estimate_training(const EstimateRequest& request, const HardwareProfile& hardware,
                           const StepTimeFit& fit);

}  // namespace llmtune::train
