// `llmtune model init`: random-initialized Hugging Face model directories for tests and
// benchmarks, shaped like real models.
#pragma once

#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

#include "model/decoder.h"
#include "model/model_config.h"

namespace llmtune::model {

struct ModelPreset {
    std::string name;
    std::optional<Architecture> arch;  // set when the preset is one real model's shape
    std::string description;
};

const std::vector<ModelPreset>& model_presets();

// The config for `preset`. `vocab_size` is used by the generic presets (tiny, small); the
// real-shape presets have their own and only check that it fits.
ModelConfig preset_config(const std::string& preset, std::optional<Architecture> arch,
                          int64_t vocab_size);

// Fills every parameter as transformers' _init_weights does: normal(0, initializer_range)
// for linear and embedding weights, zeros for biases, ones for norms. Deterministic in `seed`
// and independent of the model's dtype (drawn in float32, then cast).
void init_random_weights(CausalLM& model, uint64_t seed);

struct InitOptions {
    std::optional<Architecture> arch;  // defaults to the preset's; required for tiny/small
    std::string preset = "tiny";
    std::string tokenizer;  // tokenizer.json or a model directory
    std::string out_dir;
    uint64_t seed = 0;
    torch::Dtype dtype = torch::kFloat32;
    uint64_t max_shard_bytes = 5'000'000'000ULL;  // as transformers' save_pretrained
};

// Writes config.json, generation_config.json, model.safetensors (or shards) and the
// tokenizer files (with a chat template) into out_dir, which must not exist or be empty.
// The directory appears complete or not at all.
ModelConfig init_model_dir(const InitOptions& options);

}  // namespace llmtune::model
