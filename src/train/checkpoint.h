// Training checkpoints: <output>/checkpoints/step-N/, each holding everything an exact resume
// needs.
//
//   trainer_state.json         step, total steps, data position, early-stopping state, the
//                              resume-relevant config and its hash, model and dataset hashes
//   optimizer.safetensors      AdamW state (moments, per-parameter step counts)
//   rng_state.safetensors      torch's default CPU generator state ("torch_cpu", uint8)
//   adapter/                   LoRA: a PEFT adapter directory (adapter_config.json,
//                              adapter_model.safetensors)
//   model.safetensors          full fine-tuning: every parameter under its Hugging Face name
//
// Crash safety: the files are written (each fsync'ed) into checkpoints/.tmp-step-N.<pid>/,
// which is then renamed to step-N and the checkpoints directory fsync'ed. A crash or a full
// disk at any point leaves either no step-N or a complete one, so the newest step-N is always
// loadable; leftover .tmp-* directories are ignored and removed by the next save.
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/json_file.h"
#include "model/decoder.h"
#include "model/lora.h"
#include "train/adamw.h"
#include "train/data_order.h"

namespace llmtune::train {

// The trainer's own progress, saved as trainer_state.json.
struct TrainerState {
    int64_t step = 0;         // optimizer steps taken
    int64_t total_steps = 0;  // planned optimizer steps
    DataPosition position;    // the next batch
    int64_t tokens_seen = 0;  // non-padding training tokens processed so far
    double elapsed_s = 0;     // training time so far, across resumes
    // Early stopping: the best valid_loss so far (NaN before the first evaluation) and the
    // evaluations since it improved.
    double best_valid_loss = std::nan("");
    int64_t evals_without_improvement = 0;
    ordered_json config;       // TrainConfig::resume_relevant_json()
    std::string config_hash;   // sha256 of config.dump()
    std::string model_sha256;  // hash_model_weights(...).combined
    ordered_json datasets;     // {"train": [sha256...], "validation": sha256 or null}

    ordered_json to_json() const;
    // invalid_input naming `source` and the bad key.
    static TrainerState from_json(const json& j, const std::string& source);
};

struct CheckpointRef {
    int64_t step = 0;
    std::string dir;
};

// "step-N"
std::string checkpoint_name(int64_t step);

// The complete checkpoints in `checkpoints_dir` (step-N directories holding
// trainer_state.json), sorted by step. A missing directory gives none.
std::vector<CheckpointRef> list_checkpoints(const std::string& checkpoints_dir);
std::optional<CheckpointRef> latest_checkpoint(const std::string& checkpoints_dir);

// Creates checkpoints_dir/.tmp-step-N.<pid>, lets `fill` write into it, then renames it to
// step-N (an existing step-N is replaced) and fsyncs the parent. On any failure the temp
// directory is removed, nothing named step-N changes, and the error propagates. Returns the
// final directory.
std::string commit_checkpoint_dir(const std::string& checkpoints_dir, int64_t step,
                                  const std::function<void(const std::string& dir)>& fill);

// Deletes all but the newest `keep` checkpoints (keep >= 1), and stale .tmp-* directories.
void prune_checkpoints(const std::string& checkpoints_dir, int64_t keep);

// What a checkpoint saves: the trainable weights, the optimizer and the RNG.
struct CheckpointModel {
    model::CausalLM* lm = nullptr;
    bool lora = true;               // adapter/ vs model.safetensors
    model::LoraConfig lora_config;  // with lora
    std::string base_model_name;    // adapter_config.json's base_model_name_or_path
    AdamW* optimizer = nullptr;
};

// Writes a complete checkpoint for `state` (commit_checkpoint_dir). Returns its directory.
std::string save_checkpoint(const std::string& checkpoints_dir, const TrainerState& state,
                            const CheckpointModel& m);

// Reads trainer_state.json only.
TrainerState read_trainer_state(const std::string& checkpoint_dir);

// Restores the weights (copied into the existing parameters, which the optimizer holds),
// the optimizer state and the RNG state from `checkpoint_dir`. Every tensor name and shape
// is checked before anything changes; problems are reported together (invalid_input).
void load_checkpoint_weights(const std::string& checkpoint_dir, const CheckpointModel& m);

// torch's default CPU generator state as a uint8 tensor, and back.
torch::Tensor cpu_rng_state();
void set_cpu_rng_state(const torch::Tensor& state);

}  // namespace llmtune::train
