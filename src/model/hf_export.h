// Exporting a model as a complete Hugging Face directory: the merged weights and everything
// transformers needs to load it (config, generation config, tokenizer files, chat template).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "model/decoder.h"

namespace llmtune::model {

struct HfExportOptions {
    torch::Dtype dtype = torch::kFloat32;             // f32, f16 or bf16 weights
    uint64_t max_shard_bytes = 5'000'000'000ULL;      // as transformers' save_pretrained
};

struct HfExportSummary {
    std::vector<std::string> files;  // names written into the directory, sorted
    uint64_t bytes = 0;              // their total size
};

// The files copied from the base model directory when present (besides the weights and
// config.json, which are written).
const std::vector<std::string>& hf_export_copied_files();

// Writes `out_dir` (which must not exist, or be empty) from `model` and the base directory
// `model_dir`: model.safetensors (or shards with an index) in options.dtype, config.json (the
// base's, with torch_dtype set to the written dtype), and the base's generation config and
// tokenizer files. Adapters on the model are merged into its weights first (merge_lora), so
// the model is changed. The directory is built under a temporary name and renamed, so a
// failed export leaves nothing behind. Errors: conflict when out_dir holds files, not_found
// when model_dir has no tokenizer, invalid_input for an unsupported dtype, io on write errors.
HfExportSummary export_hf(CausalLM& model, const std::string& model_dir,
                          const std::string& out_dir, const HfExportOptions& options);

}  // namespace llmtune::model
