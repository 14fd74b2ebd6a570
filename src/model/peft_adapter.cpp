#include "model/peft_adapter.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/json_file.h"
#include "model/safetensors.h"

namespace llmtune::model {

const char* const kPeftKeyPrefix = "base_model.model.";

namespace fs = std::filesystem;

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
    std::ostringstream o;
    o << "[";
    for (size_t i = 0; i < s.size(); ++i)
        o << (i ? ", " : "") << s[i];
    return o.str() + "]";
}

// "model.layers.3.self_attn.q_proj" for (3, "q_proj").
std::string module_path(size_t layer, const std::string& target) {
    const bool attn =
        target == "q_proj" || target == "k_proj" || target == "v_proj" || target == "o_proj";
    return "model.layers." + std::to_string(layer) + (attn ? ".self_attn." : ".mlp.") + target;
}

// Every adapter tensor the model implies for `config`: PEFT key -> shape.
std::map<std::string, std::vector<int64_t>> expected_tensors(CausalLM& model,
                                                             const LoraConfig& config) {
    std::map<std::string, std::vector<int64_t>> out;
    auto params = model->named_parameters(true);
    for (size_t i = 0; i < model->model->layers->size(); ++i)
        for (const auto& t : config.resolved_targets()) {
            const std::string path = module_path(i, t);
            auto w = params[path + ".weight"];  // (out, in)
            out[kPeftKeyPrefix + path + ".lora_A.weight"] = {config.r, w.size(1)};
            out[kPeftKeyPrefix + path + ".lora_B.weight"] = {w.size(0), config.r};
        }
    return out;
}

// Why a tensor name in an adapter file is not one llmtune expects.
std::string unexpected_reason(const std::string& name) {
    const std::string prefix = kPeftKeyPrefix;
    if (name.find(".default.") != std::string::npos || name.find(".default_") != std::string::npos)
        return " (it carries PEFT's adapter name: that is a live model's state_dict; PEFT's "
               "save_pretrained drops the name)";
    if (name.rfind(prefix, 0) != 0) return " (PEFT adapter keys start with 'base_model.model.')";
    if (name.find("lora_magnitude_vector") != std::string::npos)
        return " (a DoRA magnitude; DoRA is not supported)";
    if (name.find("lora_embedding_") != std::string::npos)
        return " (an embedding adapter; only the linear projections can be adapted)";
    if (name.find(".lora_B.bias") != std::string::npos) return " (lora_bias is not supported)";
    if (name.find(".lora_A.") != std::string::npos || name.find(".lora_B.") != std::string::npos)
        return " (its module is not a target of adapter_config.json, or not in this model)";
    return "";
}

std::string problem_list(const std::vector<std::string>& problems) {
    std::string msg;
    const size_t shown = std::min<size_t>(problems.size(), 20);
    for (size_t i = 0; i < shown; ++i)
        msg += "\n  " + problems[i];
    if (problems.size() > shown)
        msg += "\n  ... and " + std::to_string(problems.size() - shown) + " more";
    return msg;
}

std::string count_str(size_t n, const std::string& what) {
    return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

}  // namespace

std::string peft_adapter_config_json(const LoraConfig& config,
                                     const std::string& base_model_name_or_path) {
    config.validate();
    // nlohmann::json keeps object keys sorted, as PEFT's json.dumps(sort_keys=True).
    json j = json::object();
    j["alpha_pattern"] = json::object();
    j["auto_mapping"] = nullptr;
    j["base_model_name_or_path"] =
        base_model_name_or_path.empty() ? json(nullptr) : json(base_model_name_or_path);
    j["bias"] = "none";
    j["corda_config"] = nullptr;
    j["eva_config"] = nullptr;
    j["exclude_modules"] = nullptr;
    j["fan_in_fan_out"] = false;
    j["inference_mode"] = true;
    j["init_lora_weights"] = true;
    j["layer_replication"] = nullptr;
    j["layers_pattern"] = nullptr;
    j["layers_to_transform"] = nullptr;
    j["loftq_config"] = json::object();
    // PEFT types lora_alpha as int; write an integral alpha as one.
    if (config.alpha == static_cast<double>(static_cast<int64_t>(config.alpha)))
        j["lora_alpha"] = static_cast<int64_t>(config.alpha);
    else
        j["lora_alpha"] = config.alpha;
    j["lora_bias"] = false;
    j["lora_dropout"] = config.dropout;
    j["megatron_config"] = nullptr;
    j["megatron_core"] = "megatron.core";
    j["modules_to_save"] = nullptr;
    j["peft_type"] = "LORA";
    j["r"] = config.r;
    j["rank_pattern"] = json::object();
    j["revision"] = nullptr;
    j["target_modules"] = config.resolved_targets();
    j["task_type"] = "CAUSAL_LM";
    j["trainable_token_indices"] = nullptr;
    j["use_dora"] = false;
    j["use_rslora"] = config.use_rslora;
    return j.dump(2) + "\n";
}

LoraConfig parse_peft_adapter_config(const std::string& text, const std::string& source) {
    json j = parse_json_text(text, source);
    if (!j.is_object()) throw_invalid(source + ": must be a JSON object");
    std::vector<std::string> problems;
    auto has = [&](const char* key) { return j.contains(key) && !j[key].is_null(); };
    // A setting that changes what the adapter computes must be at its neutral value.
    auto neutral = [&](const char* key, auto&& is_neutral, const std::string& what) {
        if (has(key) && !is_neutral(j[key]))
            problems.push_back(std::string(key) + " = " + j[key].dump() + ": " + what);
    };
    auto is_false = [](const json& v) { return v.is_boolean() && !v.get<bool>(); };
    auto is_empty = [](const json& v) { return v.empty(); };

    LoraConfig c;
    c.r = 8, c.alpha = 8, c.dropout = 0;  // PEFT's defaults for absent keys
    if (!has("peft_type"))
        problems.push_back("peft_type is missing (a PEFT adapter_config.json always has it)");
    else if (j["peft_type"] != "LORA")
        problems.push_back("peft_type = " + j["peft_type"].dump() + ": only LORA is supported");
    if (has("task_type") && j["task_type"] != "CAUSAL_LM")
        problems.push_back("task_type = " + j["task_type"].dump() +
                           ": the adapter must be for CAUSAL_LM");
    if (has("r")) {
        if (j["r"].is_number_integer() && j["r"].get<int64_t>() >= 1)
            c.r = j["r"].get<int64_t>();
        else
            problems.push_back("r = " + j["r"].dump() + ": must be an integer >= 1");
    }
    if (has("lora_alpha")) {
        if (j["lora_alpha"].is_number())
            c.alpha = j["lora_alpha"].get<double>();
        else
            problems.push_back("lora_alpha = " + j["lora_alpha"].dump() + ": must be a number");
    }
    if (has("lora_dropout")) {
        const auto& d = j["lora_dropout"];
        if (d.is_number() && d.get<double>() >= 0 && d.get<double>() < 1)
            c.dropout = d.get<double>();
        else
            problems.push_back("lora_dropout = " + d.dump() + ": must be a number in [0, 1)");
    }
    if (has("use_rslora")) {
        if (j["use_rslora"].is_boolean())
            c.use_rslora = j["use_rslora"].get<bool>();
        else
            problems.push_back("use_rslora = " + j["use_rslora"].dump() + ": must be a boolean");
    }
    const auto& known = lora_target_names();
    c.target_modules.clear();
    if (!has("target_modules")) {
        problems.push_back("target_modules is missing");
    } else if (j["target_modules"].is_string()) {
        if (j["target_modules"] == "all-linear")
            c.target_modules = {"all-linear"};
        else
            problems.push_back("target_modules = " + j["target_modules"].dump() +
                               ": a regular expression; llmtune reads a list of module names "
                               "or \"all-linear\"");
    } else if (j["target_modules"].is_array() && !j["target_modules"].empty()) {
        for (const auto& t : j["target_modules"]) {
            // PEFT matches a name or a dotted suffix of the module path, so "self_attn.q_proj"
            // and "mlp.up_proj" select what "q_proj" and "up_proj" do in these models.
            std::string name = t.is_string() ? t.get<std::string>() : "";
            for (const char* parent : {"self_attn.", "mlp."})
                if (name.rfind(parent, 0) == 0 &&
                    module_path(0, name.substr(std::string(parent).size())).find("." + name) !=
                        std::string::npos)
                    name = name.substr(std::string(parent).size());
            if (std::find(known.begin(), known.end(), name) != known.end())
                c.target_modules.push_back(name);
            else
                problems.push_back("target_modules entry " + t.dump() +
                                   ": llmtune adapts only q_proj, k_proj, v_proj, o_proj, "
                                   "gate_proj, up_proj and down_proj");
        }
    } else {
        problems.push_back("target_modules = " + j["target_modules"].dump() +
                           ": must be a non-empty list of module names or \"all-linear\"");
    }
    neutral(
        "bias", [](const json& v) { return v == "none"; },
        "only bias \"none\" is supported (no trained biases)");
    neutral("fan_in_fan_out", is_false, "weights stored as (in, out) are not supported");
    neutral("use_dora", is_false, "DoRA is not supported");
    neutral("lora_bias", is_false, "a bias on lora_B is not supported");
    neutral("use_qalora", is_false, "QALoRA is not supported");
    neutral("modules_to_save", is_empty, "fully trained extra modules are not supported");
    neutral("layers_to_transform", is_empty, "adapting only some layers is not supported");
    neutral("rank_pattern", is_empty, "per-module ranks are not supported");
    neutral("alpha_pattern", is_empty, "per-module alphas are not supported");
    neutral("layer_replication", is_empty, "layer replication is not supported");
    neutral("exclude_modules", is_empty, "excluded modules are not supported");
    neutral("trainable_token_indices", is_empty, "trainable tokens are not supported");
    neutral("megatron_config", is_empty, "Megatron layers are not supported");
    // Newer PEFT settings that change what the adapter computes or where it applies.
    neutral("target_parameters", is_empty, "adapting raw parameters is not supported");
    neutral("alora_invocation_tokens", is_empty, "activated LoRA is not supported");
    neutral("arrow_config", is_empty, "Arrow routing is not supported");
    neutral(
        "use_bdlora", [](const json& v) { return v.is_boolean() && !v.get<bool>(); },
        "block-diagonal LoRA is not supported");
    neutral("lora_ga_config", is_empty, "LoRA-GA modifies the base weights");
    // These initializations change the base weights too, so the adapter alone is not the
    // whole fine-tune; true, false, gaussian, eva and orthogonal leave the base untouched.
    neutral(
        "init_lora_weights",
        [](const json& v) {
            if (v.is_boolean()) return true;
            if (!v.is_string()) return false;
            auto s = v.get<std::string>();
            return s == "gaussian" || s == "eva" || s == "orthogonal";
        },
        "this initialization modifies the base weights; load the model it was saved with");
    if (!problems.empty())
        throw_invalid(source + ": an adapter llmtune cannot load (" +
                          count_str(problems.size(), "problem") + "):" + problem_list(problems),
                      "llmtune loads plain LoRA adapters on the attention and MLP projections");
    c.validate();
    return c;
}

void save_peft_adapter(const std::string& dir, CausalLM& model, const LoraConfig& config,
                       const std::string& base_model_name_or_path) {
    const std::string config_text = peft_adapter_config_json(config, base_model_name_or_path);
    auto expected = expected_tensors(model, config);
    NamedTensors tensors;
    std::vector<std::string> problems;
    // The scaling lives in the layers, not the tensors: a config with another alpha (or
    // rsLoRA setting) would describe a different adapter.
    for (const auto& m : model->named_modules()) {
        auto linear = std::dynamic_pointer_cast<LinearImpl>(m.value());
        if (linear && linear->has_lora() &&
            std::abs(linear->lora_scaling - config.scaling()) > 1e-12 * std::abs(config.scaling()))
            problems.push_back("adapter '" + m.key() + "' has scaling " +
                               std::to_string(linear->lora_scaling) +
                               " but the configuration gives " + std::to_string(config.scaling()));
    }
    for (const auto& [name, t] : lora_parameters(model)) {
        const std::string key = kPeftKeyPrefix + name;
        auto it = expected.find(key);
        if (it == expected.end())
            problems.push_back("adapter '" + name + "' is not a target of the configuration");
        else if (t.sizes().vec() != it->second)
            problems.push_back("adapter '" + name + "' has shape " + shape_str(t.sizes().vec()) +
                               " but the configuration implies " + shape_str(it->second));
        tensors.emplace_back(key, t.detach());
    }
    if (tensors.size() != expected.size() && problems.empty())
        problems.push_back("the model carries " + std::to_string(tensors.size()) +
                           " adapter tensors but the configuration implies " +
                           std::to_string(expected.size()));
    if (!problems.empty())
        throw Error(
            ErrorKind::conflict,
            "the model's adapters do not match the LoRA configuration:" + problem_list(problems),
            "save with the configuration the adapters were made with");
    make_dirs(dir);
    write_safetensors((fs::path(dir) / "adapter_model.safetensors").string(), tensors,
                      {{"format", "pt"}});
    write_file_atomic((fs::path(dir) / "adapter_config.json").string(), config_text);
}

LoraConfig load_peft_adapter(const std::string& dir, CausalLM& model) {
    const std::string config_path = (fs::path(dir) / "adapter_config.json").string();
    const std::string weights_path = (fs::path(dir) / "adapter_model.safetensors").string();
    LoraConfig config = parse_peft_adapter_config(read_text_file(config_path), config_path);
    if (!fs::exists(weights_path)) {
        if (fs::exists(fs::path(dir) / "adapter_model.bin"))
            throw_invalid(dir + ": the adapter weights are in adapter_model.bin (pickle)",
                          "save the adapter with safe_serialization=True (PEFT's default) to "
                          "get adapter_model.safetensors");
        throw Error(ErrorKind::not_found, weights_path + ": no such file",
                    "a PEFT adapter directory holds adapter_model.safetensors");
    }
    if (has_lora(model))
        throw Error(ErrorKind::conflict, "the model already carries LoRA adapters",
                    "load an adapter onto the base model");
    auto file = SafetensorsFile::open(weights_path);
    auto expected = expected_tensors(model, config);
    std::vector<std::string> problems;
    for (const auto& [key, shape] : expected) {
        const StTensorInfo* info = file->header().find(key);
        if (!info) {
            problems.push_back("missing tensor '" + key + "' (shape " + shape_str(shape) + ")");
        } else if (info->shape != shape) {
            problems.push_back("tensor '" + key + "' has shape " + shape_str(info->shape) +
                               " but the model and adapter_config.json (r = " +
                               std::to_string(config.r) + ") imply " + shape_str(shape));
        } else if (info->dtype != StDtype::F32 && info->dtype != StDtype::F16 &&
                   info->dtype != StDtype::BF16 && info->dtype != StDtype::F64) {
            problems.push_back("tensor '" + key + "' has dtype " + st_dtype_name(info->dtype) +
                               "; adapter weights must be floating point");
        }
    }
    for (const auto& info : file->header().tensors)
        if (!expected.count(info.name))
            problems.push_back("unexpected tensor '" + info.name + "'" +
                               unexpected_reason(info.name));
    if (!problems.empty())
        throw_invalid(dir + ": the adapter does not match the model (" +
                          count_str(problems.size(), "problem") + "):" + problem_list(problems),
                      "the adapter must have been trained on this base model");

    apply_lora(model, config, /*seed=*/0);  // A is overwritten below
    torch::NoGradGuard no_grad;
    auto params = model->named_parameters(true);
    const size_t prefix_len = std::string(kPeftKeyPrefix).size();
    for (const auto& [key, shape] : expected) {
        auto& p = params[key.substr(prefix_len)];
        p.copy_(file->tensor(key).to(p.device(), p.scalar_type()));
    }
    return config;
}

}  // namespace llmtune::model
