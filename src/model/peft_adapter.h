// PEFT adapter directories: adapter_config.json and adapter_model.safetensors, as Hugging
// Face PEFT's save_pretrained writes them for a LoRA adapter on a causal LM, so that
// PeftModel.from_pretrained loads what llmtune writes and llmtune loads what PEFT writes.
//
// Tensor keys are "base_model.model.<module path>.lora_A.weight" / ".lora_B.weight", where the
// module path is the Hugging Face one ("model.layers.0.self_attn.q_proj"). PEFT drops the
// adapter name ("default") when saving; keys that still carry it are a live module's
// state_dict, not a saved adapter, and are rejected.
#pragma once

#include <string>

#include "model/decoder.h"
#include "model/lora.h"

namespace llmtune::model {

// "base_model.model." — the prefix PEFT's saved keys carry for a causal LM.
extern const char* const kPeftKeyPrefix;

// The adapter_config.json contents PEFT writes for `config` (keys sorted, as PEFT's
// json.dumps(sort_keys=True)); target_modules is the explicit list, "all-linear" expanded,
// as PEFT stores it after resolving.
std::string peft_adapter_config_json(const LoraConfig& config,
                                     const std::string& base_model_name_or_path);

// Parses adapter_config.json text (`source` names it in errors) into a LoraConfig. Every
// setting llmtune cannot honour exactly (DoRA, lora_bias, bias != "none", fan_in_fan_out,
// layer or rank patterns, modules_to_save, regex target_modules, ...) is reported, all in
// one invalid_input error.
LoraConfig parse_peft_adapter_config(const std::string& text, const std::string& source);

// Writes dir/adapter_config.json and dir/adapter_model.safetensors (each atomically; the
// directory is created). The model must carry adapters made with `config`.
void save_peft_adapter(const std::string& dir, CausalLM& model, const LoraConfig& config,
                       const std::string& base_model_name_or_path);

// Reads the adapter in `dir`, checks every tensor's key, shape and dtype against the model
// and the config before changing anything (all missing, unexpected and misshaped tensors in
// one invalid_input error), then adds the adapters to `model` and fills them. Returns the
// adapter's configuration.
LoraConfig load_peft_adapter(const std::string& dir, CausalLM& model);

}  // namespace llmtune::model
