// `llmtune sagemaker train`: the SageMaker training-container contract on top of the trainer.
//
// It reads the job's config files and channels (container_layout.h), trains with
// train::run_training, and leaves in <root>/model (uploaded as model.tar.gz):
//   adapter/        LoRA: the PEFT adapter (adapter_config.json, adapter_model.safetensors)
//   merged/         a Hugging Face model directory: the base with the adapter merged (LoRA,
//                   in the base's dtype) or the fully fine-tuned weights (full, f32)
//   manifest.json   the trainer's lineage manifest plus a "sagemaker" section
//   events.jsonl    the trainer's events (losses, evaluations, checkpoints)
// The trainer's output dir is <root>/checkpoints (CheckpointConfig.LocalPath, which SageMaker
// syncs to S3 and restores after a spot interruption); when it holds a complete checkpoint the
// run resumes from the newest one.
//
// Ordering, cancellation and crash behaviour:
//   - Runs on the calling thread; prints one metric line per step and evaluation to `metrics`
//     (metric_lines.h) and progress messages to stderr.
//   - `stop` (SIGTERM from StopTrainingJob or a spot reclaim) is read between steps: the
//     trainer writes a checkpoint and the run ends with Error{cancelled}; the next start of
//     the container resumes from that checkpoint.
//   - Any error is written to <root>/output/failure (message and hint) before it propagates,
//     so SageMaker reports it as the job's FailureReason.
#pragma once

#include <atomic>
#include <cstdio>
#include <string>

#include "common/json_file.h"
#include "sagemaker/container_layout.h"

namespace llmtune::sagemaker {

struct ContainerRunOptions {
    const std::atomic<bool>* stop = nullptr;  // see above; null = never
    std::FILE* metrics = stdout;              // where the metric lines go
    int threads = -1;                         // >= 0 overrides the config's threads
};

struct ContainerRunResult {
    bool resumed = false;
    int64_t resumed_from_step = 0;
    int64_t steps = 0;
    int64_t total_steps = 0;
    std::string stop_reason;
    ordered_json final_metrics;
};

// Runs the contract; throws llmtune::Error after writing the failure file.
ContainerRunResult run_container_training(const ContainerLayout& layout,
                                          const ContainerRunOptions& options = {});

}  // namespace llmtune::sagemaker
