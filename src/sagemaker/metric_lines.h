// The metric lines the training container prints and the MetricDefinitions regexes that match
// them. SageMaker scans the container's stdout/stderr (CloudWatch Logs) with each regex and
// records the first capture group as the metric's value; the backend passes exactly these
// definitions in CreateTrainingJob, so the two cannot drift apart. Torch-free.
//
//   [llmtune] step=12 train_loss=1.234567 tokens_per_s=456.7 lr=0.0001
//   [llmtune] step=12 valid_loss=1.301 valid_mean_token_accuracy=0.61
#pragma once

#include <string>
#include <vector>

#include "common/json_file.h"

namespace llmtune::sagemaker {

struct MetricDefinition {
    std::string name;   // the metric's name in SageMaker and CloudWatch
    std::string regex;  // one capture group: the value
};

// train_loss, valid_loss, tokens_per_s, valid_mean_token_accuracy, learning_rate.
const std::vector<MetricDefinition>& metric_definitions();

// The metric line for a trainer event ("train" or "eval"), or "" for other events.
std::string metric_line(const ordered_json& event);

}  // namespace llmtune::sagemaker
