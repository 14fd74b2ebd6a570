// A running job's cost, from measured throughput: every training step the worker reports
// carries its tokens and tokens/s (measured by the trainer), so the step's seconds are
// tokens / tokens_per_s. Their sum is the measured training time so far; the trainer's
// eta_s (its measured mean step time times the steps left) is the time to go.
//
//   so_far_usd    = price_per_hour * measured seconds / 3600
//   projected_usd = so_far_usd + price_per_hour * eta_s / 3600
//
// The price is the one of the hardware the job runs on: this machine's profile
// (<data-dir>/hardware/local.json, `price_per_hour_usd`). Without a price both figures stay
// null -- a price is never invented. Torch-free.
#pragma once

#include <optional>
#include <string>

#include "common/json_file.h"
#include "service/metadata_store.h"

namespace llmtune::service {

// Folds one `train` event of the trainer into job.cost_json (the job as read under the
// scheduler's lock, written by its next update_job). A step already counted (step <=
// job.last_step, before the caller updates last_step) adds no seconds.
void update_job_cost(JobRecord& job, const ordered_json& train_event,
                     std::optional<double> price_per_hour);

// `price_per_hour_usd` of <data-dir>/hardware/local.json when it holds a positive number (a
// value the operator adds; `llmtune bench device` measures no price); nothing otherwise.
std::optional<double> local_price_per_hour(const std::string& data_dir);

}  // namespace llmtune::service
