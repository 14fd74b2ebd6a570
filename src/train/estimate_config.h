// The estimator's request for a training config, as `llmtune train` would run it: the model's
// config.json, and the dataset read, rendered, tokenized, truncated and (with packing) packed by
// the trainer's own code (train_data.h), so the row shapes are exactly the trainer's.
#pragma once

#include "train/estimator.h"
#include "train/train_config.h"

namespace llmtune::train {

struct ConfigDataSummary {
    int64_t train_examples = 0, valid_examples = 0;
    int64_t train_rows = 0, valid_rows = 0;
    int64_t train_tokens = 0, train_targets = 0;  // per epoch
    int64_t truncated_examples = 0;
};

// dataset_bytes is the larger of the examples' token ids and the RSS growth measured while
// reading them here (tokenizer and pipeline remnants count: the trainer carries them too).
// Throws what prepare_training_data / load_model_config throw on bad input.
EstimateRequest estimate_request_from_config(const TrainConfig& config,
                                             ConfigDataSummary* summary = nullptr);

}  // namespace llmtune::train
