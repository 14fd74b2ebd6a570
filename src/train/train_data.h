// The trainer's data: every configured file read through the dataset pipeline (any format
// `llmtune data` accepts), rendered and tokenized into training examples, optionally split
// into train and validation, and laid out in rows (one example each, or packed).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/training_example.h"
#include "train/batch.h"
#include "train/manifest.h"
#include "train/train_config.h"

namespace llmtune::train {

struct PreparedData {
    std::vector<data::TrainingExample> train, validation;
    std::vector<DatasetFileInfo> files;  // with sha256, records and examples
    int64_t truncated_examples = 0;      // examples cut to max_seq_len
    int64_t truncated_tokens = 0;        // tokens cut off in total
    int64_t dropped_no_targets = 0;      // examples with no trained token (skipped)
    std::string chat_template;           // the model's template ("" = none)
};

// Reads, encodes and splits. invalid_input when a file has invalid records (the dataset
// report's errors), when preference records appear (not supervised fine-tuning data), when no
// example is left with a trained token (each cause counted in the message), or when a
// validation set ends up empty.
PreparedData prepare_training_data(const TrainConfig& config);

// Rows of example indices: one example per row, or, with packing, the packing plan over the
// examples in their order (rows of at most max_seq_len tokens).
std::vector<std::vector<int64_t>> plan_rows(const std::vector<data::TrainingExample>& examples,
                                            bool packing, int64_t max_seq_len);

// The tensors of the rows `row_ids` (indices into `rows`), on `device`.
struct BatchLayout {
    bool packing = false;
    int64_t max_seq_len = 0;
    int32_t pad_id = 0;
    torch::Dtype bias_dtype = torch::kFloat32;  // the model's dtype
    int64_t sliding_window = 0;
    torch::Device device = torch::kCPU;
};
Batch build_batch(const std::vector<data::TrainingExample>& examples,
                  const std::vector<std::vector<int64_t>>& rows,
                  const std::vector<int64_t>& row_ids, const BatchLayout& layout);

}  // namespace llmtune::train
