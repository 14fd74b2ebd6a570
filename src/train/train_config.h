// The settings of one training run (`llmtune train CONFIG.yaml|json`), as plain structs with
// their defaults, and the one function that reads them from a YAML or JSON file.
//
// Every key is documented in docs/config.md. Parsing checks every value where it enters and
// reports all problems at once, each with its path ("training.learning_rate: must be > 0, got
// -1"); unknown keys are errors, so a typo is never silently ignored. Components never read
// config files themselves: they take these structs. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/json_file.h"

namespace llmtune::train {

enum class TrainMethod { lora, full };

struct ModelSettings {
    std::string path;            // a Hugging Face model directory (required)
    std::string dtype = "f32";   // the frozen base's dtype, f32 | bf16; LoRA adapters and the
                                 // optimizer state are always f32. Full fine-tuning needs f32.
    std::string device = "cpu";  // cpu | cuda | cuda:N
};

struct LoraSettings {
    int64_t r = 8;            // rank, >= 1
    double alpha = 16;        // lora_alpha, > 0; scaling = alpha / r (or alpha / sqrt(r))
    double dropout = 0.0;     // lora_dropout on the adapter input, in [0, 1)
    bool use_rslora = false;  // rank-stabilized scaling alpha / sqrt(r)
    // Any of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj (the short forms q,
    // k, v, o, gate, up, down are accepted), or "all-linear".
    std::vector<std::string> target_modules = {"all-linear"};
};

struct DataSettings {
    std::vector<std::string> train;  // training files, any format `llmtune data` reads (required)
    std::string validation;          // a validation file ("" = none, or use validation_split)
    double validation_split = 0.0;   // or hold out this fraction of the training records, [0, 1)
    int64_t max_seq_len = 1024;      // tokens per example; longer examples are truncated, >= 2
    bool packing = false;            // pack several examples into one row of max_seq_len
    bool train_on_inputs = false;    // loss on every token, not only the assistant's
    bool honour_weights = true;      // assistant messages with "weight": 0 carry no loss
};

struct TrainingSettings {
    std::string method = "lora";               // lora | full
    int64_t epochs = 3;                        // passes over the data, >= 1 (when max_steps is 0)
    int64_t max_steps = 0;                     // optimizer steps; > 0 overrides epochs
    int64_t batch_size = 4;                    // rows per micro-batch, >= 1
    int64_t gradient_accumulation_steps = 1;   // micro-batches per optimizer step, >= 1
    double learning_rate = 1e-4;               // peak learning rate, > 0
    std::string lr_scheduler_type = "linear";  // constant | linear | cosine
    int64_t warmup_steps = 0;                  // linear warmup steps, >= 0
    double warmup_ratio = 0.0;                 // or this fraction of the total steps, [0, 1]
    double min_lr_ratio = 0.0;                 // cosine: final lr as a fraction of the peak
    double weight_decay = 0.0;                 // AdamW decoupled decay, >= 0
    double adam_beta1 = 0.9;                   // [0, 1)
    double adam_beta2 = 0.999;                 // [0, 1)
    double adam_epsilon = 1e-8;                // > 0
    double max_grad_norm = 1.0;                // clip the gradient norm to this; 0 = no clipping
    uint64_t seed = 42;                        // data order, LoRA init, dropout
    bool gradient_checkpointing = false;       // recompute each decoder layer in backward
};

struct EvalSettings {
    int64_t eval_steps = 0;  // evaluate every N optimizer steps (0 = only at the end)
    // Stop when valid_loss has not improved by more than min_delta for this many evaluations
    // (0 = off; needs validation data).
    int64_t early_stopping_patience = 0;
    double early_stopping_min_delta = 0.0;  // >= 0
};

struct OutputSettings {
    std::string dir;               // output directory (required)
    int64_t save_steps = 0;        // checkpoint every N optimizer steps (0 = only at the end)
    int64_t save_total_limit = 0;  // keep only the newest N checkpoints (0 = keep all)
};

struct TrainConfig {
    ModelSettings model;
    LoraSettings lora;
    DataSettings data;
    TrainingSettings training;
    EvalSettings eval;
    OutputSettings output;
    int threads = 0;  // CPU threads for torch (0 = one per core)

    TrainMethod method() const;

    // The whole configuration as JSON, every key present (defaults filled in), in the layout
    // of the file. Relative paths are as given (see parse_train_config).
    ordered_json to_json() const;
    // The settings an exact resume depends on: everything but output.*, eval.*, threads and
    // model.device. A resume whose value differs is refused with the differing keys named.
    ordered_json resume_relevant_json() const;
};

// Parses YAML (.yaml/.yml) or JSON (.json) text; `source` names it in errors. `base_dir`
// resolves relative paths (model.path, data.*, output.dir): the config file's directory.
// invalid_input listing every bad key or value with its path.
TrainConfig parse_train_config(const std::string& text, const std::string& source, bool is_yaml,
                               const std::string& base_dir);

// Reads and parses a config file (the format from its extension: .yaml, .yml or .json).
TrainConfig load_train_config(const std::string& path);

// Checks the struct itself (also what parse_train_config ends with): every value in range,
// required settings present. invalid_input listing every problem.
void validate_train_config(const TrainConfig& config);

// Lists "key: old -> new" for each leaf that differs between two JSON documents (recursive
// over objects; arrays compare whole).
std::vector<std::string> json_differences(const ordered_json& before, const ordered_json& after,
                                          const std::string& prefix = "");

}  // namespace llmtune::train
