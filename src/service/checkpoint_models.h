// Checkpoints served as models: each checkpoint of a job is a model named
// `ft:<base>:<suffix>:<job>:ckpt-step-<N>` (the checkpoint's fine_tuned_model_checkpoint, as
// OpenAI names them), usable for inference like the job's final model, in the job's project
// only. A checkpoint whose directory is gone (its fine-tuned model deleted, or pruned) is not
// listed and not found.
//
// What is loaded: a LoRA checkpoint's PEFT adapter (<checkpoint>/adapter/) applied to the base
// model without merging; a full fine-tuning checkpoint's model.safetensors, through a view
// directory <job-dir>/served/ckpt-step-N/ of symlinks: the base model's config and tokenizer
// files, and the checkpoint's weights (made once, atomically, on first use).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/json_file.h"
#include "service/metadata_store.h"

namespace llmtune::service {

struct CheckpointModel {
    JobCheckpointRecord checkpoint;
    JobRecord job;
};

// The project's checkpoint models, newest first, one per name.
std::vector<CheckpointModel> list_checkpoint_models(MetadataStore& store,
                                                    const std::string& project_id);
std::optional<CheckpointModel> find_checkpoint_model(MetadataStore& store,
                                                     const std::string& project_id,
                                                     const std::string& model);

// The directories inference loads for a checkpoint of a job on the base model at
// `base_dir`; `job_dir` holds the view directory of a full checkpoint.
struct CheckpointFiles {
    std::string model_dir;
    std::string adapter_dir;  // "" for a full checkpoint
};
CheckpointFiles checkpoint_files(const CheckpointModel& m, const std::string& base_dir,
                                 const std::string& job_dir);

// OpenAI's model object for a checkpoint (with an `llmtune` object: job, step, metrics).
ordered_json checkpoint_model_json(const CheckpointModel& m);

}  // namespace llmtune::service
