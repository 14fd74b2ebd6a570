// LoRA (low-rank adaptation) on the decoder's linear layers, as PEFT does it.
//
// An adapted projection computes y = base(x) + (dropout(x) A^T B^T) * scaling, with A (r, in)
// and B (out, r) registered as the submodules `lora_A` and `lora_B` of the LinearImpl, so that
// named_parameters() yields "model.layers.0.self_attn.q_proj.lora_A.weight": PEFT's saved key
// minus its "base_model.model." prefix. The LoRA term is computed in the adapter dtype (f32 by
// default) and added to the base output in x's dtype, so a bf16 base can carry f32 adapters;
// f32 adapters on a bf16 input compute in bf16, as under autocast
// (LinearImpl::adapter_compute_dtype).
//
// Legend for shape comments: r rank, in / out the projection's input / output features.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "model/decoder.h"
#include "model/safetensors.h"

namespace llmtune::model {

// The seven projections LoRA may target, in decoder order. The lm_head is never targeted.
const std::vector<std::string>& lora_target_names();

struct LoraConfig {
    int64_t r = 8;            // rank
    double alpha = 16;        // lora_alpha
    double dropout = 0.0;     // lora_dropout on the adapter input, in [0, 1)
    bool use_rslora = false;  // scaling alpha / sqrt(r) instead of alpha / r
    std::vector<std::string> target_modules = {"q_proj", "v_proj"};  // or {"all-linear"}
    torch::Dtype dtype = torch::kFloat32;  // adapter dtype (the base may differ)

    double scaling() const;
    // The targeted projection names, "all-linear" expanded, in lora_target_names() order.
    std::vector<std::string> resolved_targets() const;
    // invalid_input naming every bad value (r < 1, dropout outside [0, 1), unknown target).
    void validate() const;
};

// Adds adapters to the targeted projections of every decoder layer and freezes every other
// parameter of the model (PEFT's bias="none"). A is drawn Kaiming-uniform with a = sqrt(5),
// i.e. U(-1/sqrt(in), 1/sqrt(in)), in f32 from `seed` in a fixed order; B is zero, so the
// adapted model starts out computing exactly the base model. conflict if adapters exist.
void apply_lora(CausalLM& model, const LoraConfig& config, uint64_t seed);

// Whether any projection of the model carries an adapter.
bool has_lora(CausalLM& model);

// Folds W += scaling * B A into each adapted base weight (summed in f32, stored in the base
// dtype) and removes the adapters. Base parameters keep their requires_grad (frozen).
void merge_lora(CausalLM& model);

// The trainable LoRA tensors, by name ("model.layers.0.self_attn.q_proj.lora_A.weight", ...).
NamedTensors lora_parameters(CausalLM& model);

}  // namespace llmtune::model
