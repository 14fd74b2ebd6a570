// EstimateRequest <-> JSON, so measured runs can be stored with exactly what the estimator saw
// (data/estimator/measurements.jsonl) and refit later. Torch-free.
#pragma once

#include "common/json_file.h"
#include "train/estimator.h"

namespace llmtune::train {

ordered_json estimate_request_to_json(const EstimateRequest& r);
// invalid_input naming the source on a missing or bad key.
EstimateRequest estimate_request_from_json(const json& j, const std::string& source);

}  // namespace llmtune::train
