// A fine-tuning job's settings: the request body of POST /v1/fine_tuning/jobs checked and
// resolved into a JobSpec, and the JobSpec turned into the trainer's config file.
//
// Hyperparameters take OpenAI's shape (method.supervised.hyperparameters, or the legacy
// top-level `hyperparameters`): n_epochs, batch_size and learning_rate_multiplier, each a number
// or "auto". "auto" is resolved once the training file's record count is known (rules in
// resolve_auto and docs/api.md). llmtune's own settings go under the `llmtune` key.
//
// Torch-free: the trainer's config is written as JSON in the layout of docs/config.md; the
// worker parses and checks it again with the trainer's own parser.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/json_file.h"

namespace llmtune::service {

struct JobSpec {
    // OpenAI hyperparameters; nullopt = "auto" (not yet resolved).
    std::optional<int64_t> n_epochs;
    std::optional<int64_t> batch_size;
    std::optional<double> learning_rate_multiplier;

    // llmtune extension
    std::string method = "lora";  // lora | full
    int64_t lora_r = 8;
    double lora_alpha = 16;
    double lora_dropout = 0.0;
    std::vector<std::string> target_modules = {"all-linear"};
    int64_t max_seq_len = 1024;
    bool packing = false;
    int64_t eval_steps = 0;       // 0 = at the end only
    int64_t save_steps = 0;       // checkpoint interval, 0 = auto (about 4 per run)
    int64_t max_steps = 0;        // > 0 overrides n_epochs
    std::optional<double> learning_rate;  // absolute; overrides the multiplier
    std::string lr_scheduler_type = "linear";
    int64_t warmup_steps = 0;
    int64_t training_examples = 0;  // set by resolve_auto
    // The trainer's memory and speed settings (docs/config.md): the frozen base's dtype (bf16
    // for LoRA only; adapters and optimizer state stay f32), recomputing each layer in
    // backward, and micro-batches per optimizer step (batch_size rows each).
    std::string dtype = "f32";
    bool gradient_checkpointing = false;
    int64_t gradient_accumulation_steps = 1;
    // llmtune.ranks: local data-parallel ranks (the worker runs under `llmtune launch`); the
    // global batch_size is split evenly across them, so it must be a multiple of ranks.
    int64_t ranks = 1;
    // llmtune.backend: where the job trains. null = a local worker; {"type": "sagemaker",
    // ...} = a SageMaker training job (sagemaker_requests.h has the keys).
    ordered_json backend = nullptr;

    // The base learning rate the multiplier scales: 2e-4 for LoRA, 2e-5 for full.
    double base_learning_rate() const;
    double effective_learning_rate() const;
    bool resolved() const { return n_epochs && batch_size && learning_rate_multiplier; }

    ordered_json to_json() const;
    static JobSpec from_json(const ordered_json& j);
    // OpenAI's `method` object for the job (hyperparameters as numbers or "auto").
    ordered_json method_json() const;
};

// Checks the hyperparameter and `llmtune` parts of a create-job request body; invalid_input
// (ServiceError with the param's path) for the first bad value.
JobSpec parse_job_spec(const ordered_json& body);

// "auto" rules, with n the training file's record count:
//   n_epochs = 3, raised to ceil(100 / n) (at most 25) when n * 3 < 100, lowered to
//              max(1, 25000 / n) when n * 3 > 25000;
//   batch_size = the largest power of two <= n / 32, between 1 and 16;
//   learning_rate_multiplier = 1.
void resolve_auto(JobSpec& spec, int64_t training_examples);

// The trainer's config (docs/config.md layout) for a resolved spec.
ordered_json make_train_config(const JobSpec& spec, const std::string& model_dir,
                               const std::string& train_file, const std::string& valid_file,
                               const std::string& output_dir, int64_t seed);

}  // namespace llmtune::service
