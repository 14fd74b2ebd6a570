// Loading a Hugging Face model directory into a CausalLM, and saving one back.
#pragma once

#include <torch/torch.h>

#include <string>

#include "model/decoder.h"
#include "model/safetensors.h"

namespace llmtune::model {

struct LoadOptions {
    torch::Dtype dtype = torch::kFloat32;  // f32 or bf16 compute dtype
    torch::Device device = torch::kCPU;
};

// Parses "f32"/"float32"/"bf16"/"bfloat16" (and f16); invalid_input otherwise.
torch::Dtype parse_dtype(const std::string& name);
std::string dtype_short_name(torch::Dtype dtype);  // "f32", "bf16", "f16"
// Parses "cpu", "cuda" or "cuda:N", checking CUDA is present in this build.
torch::Device parse_device(const std::string& name);

// Reads config.json and the safetensors checkpoint. Every tensor's name and shape is checked
// against the config first; all missing, unexpected and misshaped tensors are reported in one
// error. On the CPU, tensors already in `dtype` are used in place from the mapping.
CausalLM load_causal_lm(const std::string& dir, const LoadOptions& options);

// The checkpoint tensors of a model, under their Hugging Face names.
NamedTensors model_state(CausalLM& model);

}  // namespace llmtune::model
