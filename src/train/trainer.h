// The trainer: runs one training job described by a TrainConfig, from data files to the
// final adapter or model, with checkpoints, evaluation and metrics events.
//
// Output directory layout (output.dir):
//   events.jsonl                 one JSON event a line (metrics_log.h)
//   checkpoints/step-N/          complete checkpoints (checkpoint.h)
//   adapter_config.json,         LoRA: the PEFT adapter (load with --adapter DIR or PEFT)
//   adapter_model.safetensors
//   config.json, model.safetensors, tokenizer files, ...
//                                full fine-tuning: a Hugging Face model directory
//   manifest.json                lineage: base model and data hashes, hyperparameters, metrics
//
// Ordering, cancellation and crash behaviour:
//   - Training runs on the calling thread (torch's intra-op threads underneath); nothing is
//     global but torch's default CPU generator (dropout draws from it), whose state every
//     checkpoint saves and a resume restores.
//   - Cancellation: `TrainerHooks::stop` is read only between optimizer steps. When it is set
//     the trainer writes a checkpoint of the steps done so far, logs an "interrupted" event and
//     throws Error{cancelled}; the run resumes exactly from that checkpoint. The flag may be
//     set from a signal handler (it is a lock-free std::atomic<bool>).
//   - Crashes (SIGKILL, power loss, a full disk): a checkpoint directory appears complete or
//     not at all, so the newest step-N is always loadable and --resume continues from it with
//     the same losses and weights as an uninterrupted run. events.jsonl keeps the killed run's
//     lines past that checkpoint until the resume drops them.
//   - A NaN or infinite loss or gradient norm stops the run before the update, with an error
//     naming the step and the last good checkpoint.
//   - Data parallelism (hooks.sync a multi-rank GradientSync, docs/distributed.md): every rank
//     runs this loop in lockstep on its slice of each global batch (training.batch_size rows
//     per rank); rank 0 alone writes events, checkpoints and artifacts while the others wait
//     at a barrier; rank 0 picks the resume checkpoint and broadcasts its step; the stop flag
//     is all-reduced each step so every rank stops after the same one. With one rank nothing
//     differs from a single process.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "common/json_file.h"
#include "model/lora.h"
#include "train/gradient_sync.h"
#include "train/train_config.h"

namespace llmtune::train {

struct ResumeOptions {
    bool resume = false;     // continue from a checkpoint in output.dir/checkpoints
    std::string checkpoint;  // "" = the latest; else "step-N", N, or a checkpoint directory
};

struct TrainerHooks {
    const std::atomic<bool>* stop = nullptr;  // see above; null = never
    // Called with every event after it is appended to events.jsonl (progress display).
    std::function<void(const ordered_json& event)> on_event;
    GradientSync* sync = nullptr;  // null = one process (LocalSync)
};

struct TrainResult {
    int64_t steps = 0;        // optimizer steps taken in total
    int64_t total_steps = 0;  // planned
    // "completed" (all planned steps) or "early_stopping".
    std::string stop_reason;
    ordered_json final_metrics;  // train_loss, train_mean_token_accuracy, valid_* when present
    std::string output_dir;
    std::string last_checkpoint;  // the final checkpoint's directory
};

// The adapters a LoRA config trains: short target names (q, k, ..., down) name the *_proj
// modules; the adapters are f32 whatever the base's dtype.
model::LoraConfig lora_config_of(const TrainConfig& c);

// Runs (or resumes) the job. Errors: invalid_input for bad config or data, conflict when
// output.dir already holds a run and resume is off (or the checkpoint's settings differ),
// not_found when resuming with no checkpoint, cancelled when stopped, io for disk failures.
TrainResult run_training(const TrainConfig& config, const ResumeOptions& resume = {},
                         const TrainerHooks& hooks = {});

}  // namespace llmtune::train
