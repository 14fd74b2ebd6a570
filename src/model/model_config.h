// config.json of a Hugging Face decoder-only model: Llama, Mistral, Qwen2 and Qwen3.
//
// parse_model_config() checks every field where it enters. Anything that would change the
// math in a way llmtune does not implement (another activation, another RoPE scaling, MLP
// biases, ...) is an error naming the field, never a silently different model.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/json_file.h"

namespace llmtune::model {

enum class Architecture { llama, mistral, qwen2, qwen3 };

const char* architecture_class_name(Architecture arch);  // "LlamaForCausalLM", ...
const char* architecture_model_type(Architecture arch);  // "llama", ...
// Accepts a model_type ("qwen2") or class name ("Qwen2ForCausalLM").
std::optional<Architecture> architecture_from_name(const std::string& name);

struct RopeScaling {
    std::string type = "none";  // none | linear | dynamic | llama3
    double factor = 1.0;
    // llama3 only
    double low_freq_factor = 1.0;
    double high_freq_factor = 4.0;
    int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
    Architecture arch = Architecture::llama;
    int64_t vocab_size = 0;
    int64_t hidden_size = 0;
    int64_t intermediate_size = 0;
    int64_t num_hidden_layers = 0;
    int64_t num_attention_heads = 0;
    int64_t num_key_value_heads = 0;  // < num_attention_heads means grouped-query attention
    int64_t head_dim = 0;             // defaults to hidden_size / num_attention_heads
    double rms_norm_eps = 1e-6;
    double rope_theta = 10000.0;
    RopeScaling rope_scaling;
    int64_t max_position_embeddings = 2048;
    bool tie_word_embeddings = false;
    bool qkv_bias = false;       // Qwen2 always; Llama/Qwen3 when attention_bias
    bool o_bias = false;         // Llama/Qwen3 when attention_bias
    bool qk_norm = false;        // Qwen3's per-head RMSNorm on q and k
    int64_t sliding_window = 0;  // Mistral's attention window; 0 = full causal attention
    double initializer_range = 0.02;
    std::optional<int64_t> bos_token_id;
    std::vector<int64_t> eos_token_ids;
    std::optional<int64_t> pad_token_id;
    std::string torch_dtype = "float32";  // as stored; informational

    int64_t q_dim() const { return num_attention_heads * head_dim; }
    int64_t kv_dim() const { return num_key_value_heads * head_dim; }
};

// Parses a config.json object; `source` names the file in error messages.
ModelConfig parse_model_config(const json& j, const std::string& source);
ModelConfig load_model_config(const std::string& model_dir);

// The config.json transformers writes for this architecture (same keys and types).
ordered_json model_config_to_json(const ModelConfig& cfg);

// Parameter count of the model this config describes (tied embeddings counted once).
int64_t count_parameters(const ModelConfig& cfg);

}  // namespace llmtune::model
