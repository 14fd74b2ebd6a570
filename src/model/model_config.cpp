#include "model/model_config.h"

#include <filesystem>

#include "common/error.h"

namespace llmtune::model {

namespace {

const char* kConfigHint =
    "fix config.json; it must describe a Llama, Mistral, Qwen2 or Qwen3 model";

[[noreturn]] void bad_field(const std::string& source, const std::string& field,
                            const std::string& what) {
    throw_invalid(source + ": field '" + field + "' " + what, kConfigHint);
}

// Reads an integer field; `required` fields must be present and non-null.
std::optional<int64_t> get_int(const json& j, const std::string& source, const char* field,
                               bool required, int64_t lo, int64_t hi) {
    auto it = j.find(field);
    if (it == j.end() || it->is_null()) {
        if (required) bad_field(source, field, "is missing");
        return std::nullopt;
    }
    if (!it->is_number_integer()) bad_field(source, field, "must be an integer, got " + it->dump());
    int64_t v = it->get<int64_t>();
    if (v < lo || v > hi)
        bad_field(source, field,
                  "is " + std::to_string(v) + ", outside [" + std::to_string(lo) + ", " +
                      std::to_string(hi) + "]");
    return v;
}

std::optional<double> get_double(const json& j, const std::string& source, const char* field) {
    auto it = j.find(field);
    if (it == j.end() || it->is_null()) return std::nullopt;
    if (!it->is_number()) bad_field(source, field, "must be a number, got " + it->dump());
    return it->get<double>();
}

bool get_bool(const json& j, const std::string& source, const char* field, bool dflt) {
    auto it = j.find(field);
    if (it == j.end() || it->is_null()) return dflt;
    if (!it->is_boolean()) bad_field(source, field, "must be true or false, got " + it->dump());
    return it->get<bool>();
}

constexpr int64_t kMaxDim = 1 << 20;  // generous bounds that still catch corrupt values
constexpr int64_t kMaxVocab = 1 << 24;

RopeScaling parse_rope_scaling(const json& rs, const std::string& source, const char* field) {
    RopeScaling out;
    if (rs.is_null()) return out;
    if (!rs.is_object()) bad_field(source, field, "must be an object or null");
    std::string type;
    if (rs.contains("rope_type") && rs["rope_type"].is_string())
        type = rs["rope_type"].get<std::string>();
    else if (rs.contains("type") && rs["type"].is_string())
        type = rs["type"].get<std::string>();
    else
        bad_field(source, field, "has no \"rope_type\"");
    const std::string f = std::string(field);
    if (type == "default") return out;
    if (type != "linear" && type != "dynamic" && type != "llama3")
        bad_field(source, f + ".rope_type",
                  "is '" + type +
                      "', which llmtune does not implement (supported: linear, "
                      "dynamic, llama3)");
    out.type = type;
    auto factor = get_double(rs, source, "factor");
    if (!factor || *factor < 1.0) bad_field(source, f + ".factor", "must be a number >= 1");
    out.factor = *factor;
    if (type == "llama3") {
        out.low_freq_factor = get_double(rs, source, "low_freq_factor").value_or(1.0);
        out.high_freq_factor = get_double(rs, source, "high_freq_factor").value_or(4.0);
        out.original_max_position_embeddings =
            get_int(rs, source, "original_max_position_embeddings", true, 1, 1LL << 32).value();
        if (!(out.high_freq_factor > out.low_freq_factor) || out.low_freq_factor <= 0)
            bad_field(source, f + ".high_freq_factor", "must exceed low_freq_factor > 0");
    }
    return out;
}

}  // namespace

const char* architecture_class_name(Architecture arch) {
    switch (arch) {
        case Architecture::llama:
            return "LlamaForCausalLM";
        case Architecture::mistral:
            return "MistralForCausalLM";
        case Architecture::qwen2:
            return "Qwen2ForCausalLM";
        case Architecture::qwen3:
            return "Qwen3ForCausalLM";
    }
    return "?";
}

const char* architecture_model_type(Architecture arch) {
    switch (arch) {
        case Architecture::llama:
            return "llama";
        case Architecture::mistral:
            return "mistral";
        case Architecture::qwen2:
            return "qwen2";
        case Architecture::qwen3:
            return "qwen3";
    }
    return "?";
}

std::optional<Architecture> architecture_from_name(const std::string& name) {
    for (auto a :
         {Architecture::llama, Architecture::mistral, Architecture::qwen2, Architecture::qwen3})
        if (name == architecture_class_name(a) || name == architecture_model_type(a)) return a;
    return std::nullopt;
}

ModelConfig parse_model_config(const json& j, const std::string& source) {
    if (!j.is_object()) throw_invalid(source + ": config.json must be a JSON object", kConfigHint);
    ModelConfig c;

    // The architecture: "architectures"[0] wins, "model_type" is the fallback.
    std::string arch_name;
    if (j.contains("architectures") && j["architectures"].is_array() &&
        !j["architectures"].empty()) {
        if (j["architectures"].size() != 1 || !j["architectures"][0].is_string())
            bad_field(source, "architectures", "must hold exactly one class name");
        arch_name = j["architectures"][0].get<std::string>();
    } else if (j.contains("model_type") && j["model_type"].is_string()) {
        arch_name = j["model_type"].get<std::string>();
    } else {
        bad_field(source, "architectures", "is missing (and there is no model_type)");
    }
    auto arch = architecture_from_name(arch_name);
    if (!arch)
        throw_invalid(source + ": unsupported architecture '" + arch_name + "'",
                      "llmtune supports LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM "
                      "and Qwen3ForCausalLM");
    c.arch = *arch;

    c.vocab_size = *get_int(j, source, "vocab_size", true, 1, kMaxVocab);
    c.hidden_size = *get_int(j, source, "hidden_size", true, 1, kMaxDim);
    c.intermediate_size = *get_int(j, source, "intermediate_size", true, 1, kMaxDim);
    c.num_hidden_layers = *get_int(j, source, "num_hidden_layers", true, 1, 4096);
    c.num_attention_heads = *get_int(j, source, "num_attention_heads", true, 1, 4096);
    c.num_key_value_heads =
        get_int(j, source, "num_key_value_heads", false, 1, 4096).value_or(c.num_attention_heads);
    if (c.num_attention_heads % c.num_key_value_heads != 0)
        bad_field(source, "num_key_value_heads",
                  "(" + std::to_string(c.num_key_value_heads) +
                      ") must divide num_attention_heads (" +
                      std::to_string(c.num_attention_heads) + ")");
    auto head_dim = get_int(j, source, "head_dim", false, 1, 4096);
    if (head_dim) {
        c.head_dim = *head_dim;
    } else {
        if (c.hidden_size % c.num_attention_heads != 0)
            bad_field(source, "hidden_size",
                      "must be divisible by num_attention_heads when "
                      "head_dim is not given");
        c.head_dim = c.hidden_size / c.num_attention_heads;
    }
    if (c.head_dim % 2 != 0) bad_field(source, "head_dim", "must be even for rotary embeddings");

    c.rms_norm_eps = get_double(j, source, "rms_norm_eps").value_or(1e-6);
    if (!(c.rms_norm_eps > 0 && c.rms_norm_eps < 1))
        bad_field(source, "rms_norm_eps", "must be in (0, 1)");
    c.max_position_embeddings =
        get_int(j, source, "max_position_embeddings", false, 1, 1LL << 32).value_or(2048);
    c.initializer_range = get_double(j, source, "initializer_range").value_or(0.02);

    // RoPE: the classic fields, or transformers 5's "rope_parameters".
    c.rope_theta = get_double(j, source, "rope_theta").value_or(10000.0);
    if (j.contains("rope_parameters") && j["rope_parameters"].is_object()) {
        const json& rp = j["rope_parameters"];
        if (auto t = get_double(rp, source, "rope_theta")) c.rope_theta = *t;
        c.rope_scaling = parse_rope_scaling(rp, source, "rope_parameters");
    } else if (j.contains("rope_scaling")) {
        c.rope_scaling = parse_rope_scaling(j["rope_scaling"], source, "rope_scaling");
    }
    if (!(c.rope_theta > 0)) bad_field(source, "rope_theta", "must be positive");
    if (auto prf = get_double(j, source, "partial_rotary_factor"); prf && *prf != 1.0)
        bad_field(source, "partial_rotary_factor", "other than 1.0 is not implemented");

    // Fields that would change the math.
    if (j.contains("hidden_act") && j["hidden_act"] != "silu")
        bad_field(source, "hidden_act",
                  "is " + j["hidden_act"].dump() + "; only \"silu\" is implemented");
    if (get_bool(j, source, "mlp_bias", false))
        bad_field(source, "mlp_bias", "true is not implemented");
    if (j.contains("quantization_config"))
        bad_field(source, "quantization_config",
                  "is present; quantized checkpoints are not supported");
    if (auto tp = get_int(j, source, "pretraining_tp", false, 1, 1024); tp && *tp != 1) {
        // pretraining_tp only splits the matmuls; the result is the same. Nothing to do.
    }

    bool attention_bias = get_bool(j, source, "attention_bias", false);
    switch (c.arch) {
        case Architecture::llama:
        case Architecture::qwen3:
            c.qkv_bias = c.o_bias = attention_bias;
            break;
        case Architecture::qwen2:
            c.qkv_bias = true;  // Qwen2's attention always has q/k/v biases and none on o
            break;
        case Architecture::mistral:
            if (attention_bias)
                bad_field(source, "attention_bias", "true is not implemented for Mistral");
            break;
    }
    c.qk_norm = c.arch == Architecture::qwen3;

    // Sliding-window attention: Mistral applies "sliding_window" whenever it is set; Qwen2/3
    // only with use_sliding_window, which llmtune does not implement (it is per-layer there).
    if (c.arch == Architecture::mistral) {
        c.sliding_window = get_int(j, source, "sliding_window", false, 1, 1LL << 32).value_or(0);
    } else if (c.arch == Architecture::qwen2 || c.arch == Architecture::qwen3) {
        if (get_bool(j, source, "use_sliding_window", false))
            bad_field(source, "use_sliding_window", "true is not implemented");
    }
    if (j.contains("layer_types") && j["layer_types"].is_array())
        for (const auto& t : j["layer_types"])
            if (t != "full_attention")
                bad_field(source, "layer_types",
                          "contains " + t.dump() + "; only full_attention is implemented");

    c.tie_word_embeddings = get_bool(j, source, "tie_word_embeddings", false);
    c.bos_token_id = get_int(j, source, "bos_token_id", false, 0, kMaxVocab);
    c.pad_token_id = get_int(j, source, "pad_token_id", false, 0, kMaxVocab);
    if (j.contains("eos_token_id") && !j["eos_token_id"].is_null()) {
        const json& e = j["eos_token_id"];
        auto check = [&](const json& v) {
            if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= kMaxVocab)
                bad_field(source, "eos_token_id", "must be a token id or a list of them");
            c.eos_token_ids.push_back(v.get<int64_t>());
        };
        if (e.is_array())
            for (const auto& v : e)
                check(v);
        else
            check(e);
    }
    if (j.contains("torch_dtype") && j["torch_dtype"].is_string())
        c.torch_dtype = j["torch_dtype"].get<std::string>();
    else if (j.contains("dtype") && j["dtype"].is_string())
        c.torch_dtype = j["dtype"].get<std::string>();
    return c;
}

ModelConfig load_model_config(const std::string& model_dir) {
    std::string path = (std::filesystem::path(model_dir) / "config.json").string();
    if (!std::filesystem::exists(path))
        throw Error(ErrorKind::not_found, model_dir + ": no config.json",
                    "point --model at a Hugging Face model directory, or create one with "
                    "`llmtune model init`");
    return parse_model_config(read_json_file(path), path);
}

ordered_json model_config_to_json(const ModelConfig& c) {
    ordered_json j;
    j["architectures"] = {architecture_class_name(c.arch)};
    if (c.arch == Architecture::llama || c.arch == Architecture::qwen3)
        j["attention_bias"] = c.o_bias;
    j["attention_dropout"] = 0.0;
    j["bos_token_id"] = c.bos_token_id ? ordered_json(*c.bos_token_id) : ordered_json(nullptr);
    if (c.eos_token_ids.size() == 1)
        j["eos_token_id"] = c.eos_token_ids[0];
    else if (c.eos_token_ids.empty())
        j["eos_token_id"] = nullptr;
    else
        j["eos_token_id"] = c.eos_token_ids;
    j["head_dim"] = c.head_dim;
    j["hidden_act"] = "silu";
    j["hidden_size"] = c.hidden_size;
    j["initializer_range"] = c.initializer_range;
    j["intermediate_size"] = c.intermediate_size;
    j["max_position_embeddings"] = c.max_position_embeddings;
    if (c.arch == Architecture::qwen2 || c.arch == Architecture::qwen3)
        j["max_window_layers"] = c.num_hidden_layers;
    if (c.arch == Architecture::llama) {
        j["mlp_bias"] = false;
        j["pretraining_tp"] = 1;
    }
    j["model_type"] = architecture_model_type(c.arch);
    j["num_attention_heads"] = c.num_attention_heads;
    j["num_hidden_layers"] = c.num_hidden_layers;
    j["num_key_value_heads"] = c.num_key_value_heads;
    if (c.pad_token_id) j["pad_token_id"] = *c.pad_token_id;
    j["rms_norm_eps"] = c.rms_norm_eps;
    if (c.rope_scaling.type == "none") {
        j["rope_scaling"] = nullptr;
    } else {
        ordered_json rs;
        rs["factor"] = c.rope_scaling.factor;
        if (c.rope_scaling.type == "llama3") {
            rs["high_freq_factor"] = c.rope_scaling.high_freq_factor;
            rs["low_freq_factor"] = c.rope_scaling.low_freq_factor;
            rs["original_max_position_embeddings"] =
                c.rope_scaling.original_max_position_embeddings;
        }
        rs["rope_type"] = c.rope_scaling.type;
        j["rope_scaling"] = rs;
    }
    j["rope_theta"] = c.rope_theta;
    if (c.arch == Architecture::mistral || c.arch == Architecture::qwen2 ||
        c.arch == Architecture::qwen3)
        j["sliding_window"] =
            c.sliding_window > 0 ? ordered_json(c.sliding_window) : ordered_json(nullptr);
    j["tie_word_embeddings"] = c.tie_word_embeddings;
    j["torch_dtype"] = c.torch_dtype;
    j["use_cache"] = true;
    if (c.arch == Architecture::qwen2 || c.arch == Architecture::qwen3)
        j["use_sliding_window"] = false;
    j["vocab_size"] = c.vocab_size;
    return j;
}

int64_t count_parameters(const ModelConfig& c) {
    const int64_t h = c.hidden_size;
    int64_t attn = h * c.q_dim() + 2 * h * c.kv_dim() + c.q_dim() * h;
    if (c.qkv_bias) attn += c.q_dim() + 2 * c.kv_dim();
    if (c.o_bias) attn += h;
    if (c.qk_norm) attn += 2 * c.head_dim;
    int64_t mlp = 3 * h * c.intermediate_size;
    int64_t layer = attn + mlp + 2 * h;
    int64_t embed = c.vocab_size * h;
    return embed + (c.tie_word_embeddings ? 0 : embed) + c.num_hidden_layers * layer + h;
}

}  // namespace llmtune::model
