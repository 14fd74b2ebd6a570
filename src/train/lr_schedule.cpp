#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <vector>

#include "common/error.h"

namespace llmtune::train {

namespace {

std::string num(double x) {
    std::ostringstream os;
    os << x;
    return os.str();
}

constexpr double kPi = 3.14159265358979323846;

}  // namespace

LrScheduleKind parse_lr_schedule_kind(const std::string& name) {
    if (name == "constant") return LrScheduleKind::constant;
    if (name == "linear") return LrScheduleKind::linear;
    if (name == "cosine") return LrScheduleKind::cosine;
    throw_invalid("unknown lr_scheduler_type '" + name + "'",
                  "lr_scheduler_type takes constant, linear or cosine");
}

const char* lr_schedule_kind_name(LrScheduleKind kind) {
    switch (kind) {
        case LrScheduleKind::constant:
            return "constant";
        case LrScheduleKind::linear:
            return "linear";
        case LrScheduleKind::cosine:
            return "cosine";
    }
    return "?";
}

void LrScheduleConfig::validate(int64_t total_steps) const {
    std::vector<std::string> problems;
    if (total_steps < 1)
        problems.push_back("total_steps must be at least 1 (got " + std::to_string(total_steps) +
                           ")");
    if (warmup_steps < 0)
        problems.push_back("warmup_steps must be >= 0 (got " + std::to_string(warmup_steps) + ")");
    else if (total_steps >= 1 && warmup_steps > total_steps)
        problems.push_back("warmup_steps (" + std::to_string(warmup_steps) +
                           ") exceeds the total steps (" + std::to_string(total_steps) + ")");
    if (!(warmup_ratio >= 0 && warmup_ratio <= 1))
        problems.push_back("warmup_ratio must be in [0, 1] (got " + num(warmup_ratio) + ")");
    if (warmup_steps > 0 && warmup_ratio > 0)
        problems.push_back("warmup_steps and warmup_ratio are both set; set one of them");
    if (!(min_lr_ratio >= 0 && min_lr_ratio <= 1))
        problems.push_back("min_lr_ratio must be in [0, 1] (got " + num(min_lr_ratio) + ")");
    else if (min_lr_ratio > 0 && kind != LrScheduleKind::cosine)
        problems.push_back(
            std::string("min_lr_ratio applies only to the cosine schedule (this one is ") +
            lr_schedule_kind_name(kind) + ")");
    if (problems.empty()) return;
    std::string msg = "invalid learning-rate schedule:";
    for (const auto& p : problems)
        msg += "\n  " + p;
    throw_invalid(msg,
                  "typical values: lr_scheduler_type cosine or linear, warmup_ratio 0.03 to 0.1");
}

LrSchedule::LrSchedule(const LrScheduleConfig& config, int64_t total_steps)
    : config_(config), total_(total_steps) {
    config_.validate(total_steps);
    warmup_ =
        config_.warmup_steps > 0
            ? config_.warmup_steps
            : static_cast<int64_t>(std::ceil(static_cast<double>(total_) * config_.warmup_ratio));
    LLMTUNE_ASSERT(warmup_ >= 0 && warmup_ <= total_, "the warmup fits in the run");
}

double LrSchedule::factor(int64_t step) const {
    LLMTUNE_ASSERT(step >= 0, "step indices start at 0");
    const int64_t s = std::min(step, total_);
    if (s < warmup_)
        return static_cast<double>(s) / static_cast<double>(std::max<int64_t>(1, warmup_));
    const double span = static_cast<double>(std::max<int64_t>(1, total_ - warmup_));
    switch (config_.kind) {
        case LrScheduleKind::constant:
            return 1.0;
        case LrScheduleKind::linear:
            return std::max(0.0, static_cast<double>(total_ - s) / span);
        case LrScheduleKind::cosine: {
            const double progress = static_cast<double>(s - warmup_) / span;
            const double c = 0.5 * (1.0 + std::cos(kPi * progress));
            return std::max(0.0, c * (1 - config_.min_lr_ratio) + config_.min_lr_ratio);
        }
    }
    LLMTUNE_ASSERT(false, "every schedule kind is handled");
    return 0;
}

}  // namespace llmtune::train
