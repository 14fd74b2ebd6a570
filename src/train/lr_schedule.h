// Learning-rate schedules: a factor in [0, 1] that multiplies the peak learning rate
// (AdamWConfig::lr) at each optimizer step.
//
// The formulas are those of Hugging Face transformers (src/transformers/optimization.py:
// get_constant_schedule_with_warmup, get_linear_schedule_with_warmup,
// get_cosine_schedule_with_warmup and get_cosine_with_min_lr_schedule_with_warmup, with
// num_cycles = 0.5). With s the index of the step about to be taken (0 for the first step,
// i.e. the number of optimizer steps already taken), W the warmup steps and N the total steps:
//
//   s < W:     s / max(1, W)                       (so the first step has factor 0 when W > 0)
//   constant:  1
//   linear:    max(0, (N - s) / max(1, N - W))
//   cosine:    c = 0.5 * (1 + cos(pi * (s - W) / max(1, N - W)));  r + (1 - r) * c
//              with r = min_lr_ratio (0 decays to zero)
//
// Warmup given as a ratio is W = ceil(N * warmup_ratio), computed in double exactly as
// transformers' TrainingArguments.get_warmup_steps does. Steps past N are evaluated at N (the
// trainer never takes them; transformers' cosine would rise again there).
//
// The schedule has no state of its own: resuming needs only the optimizer's step count.
#pragma once

#include <cstdint>
#include <string>

namespace llmtune::train {

enum class LrScheduleKind { constant, linear, cosine };

// "constant", "linear" or "cosine" (transformers' lr_scheduler_type names); invalid_input
// naming lr_scheduler_type otherwise.
LrScheduleKind parse_lr_schedule_kind(const std::string& name);
const char* lr_schedule_kind_name(LrScheduleKind kind);

struct LrScheduleConfig {
    LrScheduleKind kind = LrScheduleKind::linear;  // lr_scheduler_type; transformers' default
    int64_t warmup_steps = 0;   // linear warmup from 0 over this many steps, >= 0
    double warmup_ratio = 0.0;  // or over ceil(total * ratio) steps, in [0, 1]; not both
    double min_lr_ratio = 0.0;  // cosine only: the final factor, in [0, 1]

    // invalid_input naming every bad field; total_steps (>= 1) is checked with it, and the
    // warmup may not exceed it.
    void validate(int64_t total_steps) const;
};

class LrSchedule {
  public:
    // Validates `config` against `total_steps`.
    LrSchedule(const LrScheduleConfig& config, int64_t total_steps);

    // The factor for step index `step` (>= 0; see above).
    double factor(int64_t step) const;
    int64_t warmup_steps() const { return warmup_; }
    int64_t total_steps() const { return total_; }

  private:
    LrScheduleConfig config_;
    int64_t total_ = 0;
    int64_t warmup_ = 0;
};

}  // namespace llmtune::train
