#include "model/model_init.h"

#include <unistd.h>

#include <filesystem>

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/json_file.h"
#include "common/progress.h"
#include "model/loader.h"
#include "model/safetensors.h"
#include "tokenizer/default_chat_templates.h"
#include "tokenizer/tokenizer_files.h"

namespace fs = std::filesystem;

namespace llmtune::model {

const std::vector<ModelPreset>& model_presets() {
    static const std::vector<ModelPreset> presets = {
        {"tiny", std::nullopt, "4 layers, hidden 192: ~1.6M parameters plus embeddings (tests)"},
        {"small", std::nullopt, "10 layers, hidden 512: ~30M parameters plus embeddings"},
        {"qwen2.5-0.5b", Architecture::qwen2, "the shape of Qwen/Qwen2.5-0.5B (494M parameters)"},
        {"llama-3.2-1b", Architecture::llama,
         "the shape of meta-llama/Llama-3.2-1B (1.24B parameters)"},
    };
    return presets;
}

ModelConfig preset_config(const std::string& preset, std::optional<Architecture> arch,
                          int64_t vocab_size) {
    const ModelPreset* p = nullptr;
    for (const auto& candidate : model_presets())
        if (candidate.name == preset) p = &candidate;
    if (!p) {
        std::string names;
        for (const auto& c : model_presets())
            names += (names.empty() ? "" : ", ") + c.name;
        throw_invalid("unknown preset '" + preset + "'", "choose one of: " + names);
    }
    if (p->arch && arch && *arch != *p->arch)
        throw_invalid(
            "preset '" + preset + "' is a " + architecture_model_type(*p->arch) +
                " model, but --arch " + architecture_model_type(*arch) + " was given",
            "drop --arch or pass --arch " + std::string(architecture_model_type(*p->arch)));
    if (!p->arch && !arch)
        throw_invalid("preset '" + preset + "' needs --arch",
                      "pass --arch llama|mistral|qwen2|qwen3");
    ModelConfig c;
    c.arch = p->arch ? *p->arch : *arch;
    if (preset == "tiny" || preset == "small") {
        const bool tiny = preset == "tiny";
        c.hidden_size = tiny ? 192 : 512;
        c.intermediate_size = tiny ? 512 : 1408;
        c.num_hidden_layers = tiny ? 4 : 10;
        c.num_attention_heads = tiny ? 6 : 8;
        c.num_key_value_heads = tiny ? 2 : 4;
        c.head_dim = c.hidden_size / c.num_attention_heads;
        c.vocab_size = vocab_size;
        c.max_position_embeddings = 4096;
        c.rms_norm_eps = 1e-6;
        c.rope_theta = c.arch == Architecture::llama ? 500000.0 : 1000000.0;
        // Qwen ties its embeddings at small sizes, Llama and Mistral do not: both paths get used.
        c.tie_word_embeddings = c.arch == Architecture::qwen2 || c.arch == Architecture::qwen3;
    } else if (preset == "qwen2.5-0.5b") {
        c.hidden_size = 896;
        c.intermediate_size = 4864;
        c.num_hidden_layers = 24;
        c.num_attention_heads = 14;
        c.num_key_value_heads = 2;
        c.head_dim = 64;
        c.vocab_size = 151936;
        c.max_position_embeddings = 32768;
        c.rms_norm_eps = 1e-6;
        c.rope_theta = 1000000.0;
        c.tie_word_embeddings = true;
    } else {  // llama-3.2-1b
        c.hidden_size = 2048;
        c.intermediate_size = 8192;
        c.num_hidden_layers = 16;
        c.num_attention_heads = 32;
        c.num_key_value_heads = 8;
        c.head_dim = 64;
        c.vocab_size = 128256;
        c.max_position_embeddings = 131072;
        c.rms_norm_eps = 1e-5;
        c.rope_theta = 500000.0;
        c.rope_scaling = {"llama3", 32.0, 1.0, 4.0, 8192};
        c.tie_word_embeddings = true;
    }
    if (vocab_size > c.vocab_size)
        throw_invalid("the tokenizer has " + std::to_string(vocab_size) + " ids but preset '" +
                          preset + "' has a vocabulary of " + std::to_string(c.vocab_size),
                      "use the tokenizer of the model the preset copies, or a generic preset");
    c.qkv_bias = c.arch == Architecture::qwen2;
    c.qk_norm = c.arch == Architecture::qwen3;
    return c;
}

void init_random_weights(CausalLM& model, uint64_t seed) {
    torch::NoGradGuard no_grad;
    auto gen = at::detail::createCPUGenerator(seed);
    const double std = model->config().initializer_range;
    Progress progress("initializing", count_parameters(model->config()), "params");
    for (auto& p : model->named_parameters(true)) {
        progress.advance(p.value().numel());
        const std::string& name = p.key();
        auto f32 = torch::empty(p.value().sizes(), torch::kFloat32);
        if (name.find("norm.weight") != std::string::npos ||
            name.find("layernorm") != std::string::npos)
            f32.fill_(1.0);
        else if (name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0)
            f32.zero_();
        else
            f32.normal_(0.0, std, gen);
        p.value().copy_(f32);
    }
    progress.finish();
}

namespace {

// The parsed tokenizer.json, or an empty object for a SentencePiece-only tokenizer.
json tokenizer_json_of(const tokenizer::TokenizerFiles& files) {
    return files.tokenizer_json.empty() ? json::object() : read_json_file(files.tokenizer_json);
}

// Copies the tokenizer files into `dir`, adding a chat template when the config has none.
void copy_tokenizer(const tokenizer::TokenizerFiles& files,
                    const tokenizer::TokenizerSummary& summary, const std::string& dir) {
    if (!files.tokenizer_json.empty())
        fs::copy_file(files.tokenizer_json, fs::path(dir) / "tokenizer.json");
    if (!files.sentencepiece_model.empty())
        fs::copy_file(files.sentencepiece_model, fs::path(dir) / "tokenizer.model");
    if (!files.special_tokens_map.empty())
        fs::copy_file(files.special_tokens_map, fs::path(dir) / "special_tokens_map.json");
    ordered_json cfg = ordered_json::object();
    if (!files.tokenizer_config_json.empty())
        cfg = read_ordered_json_file(files.tokenizer_config_json);
    if (!cfg.is_object()) throw_invalid(files.tokenizer_config_json + ": must be a JSON object");
    if (!summary.chat_template)
        cfg["chat_template"] =
            tokenizer::default_chat_template(tokenizer_json_of(files), summary.bos_token);
    write_json_file((fs::path(dir) / "tokenizer_config.json").string(), cfg);
}

ordered_json generation_config_json(const ModelConfig& c, const std::vector<int64_t>& eos) {
    ordered_json g;
    if (c.bos_token_id) g["bos_token_id"] = *c.bos_token_id;
    if (eos.size() == 1)
        g["eos_token_id"] = eos[0];
    else if (!eos.empty())
        g["eos_token_id"] = eos;
    if (c.pad_token_id) g["pad_token_id"] = *c.pad_token_id;
    return g;
}

}  // namespace

ModelConfig init_model_dir(const InitOptions& o) {
    if (o.out_dir.empty()) throw_invalid("--out is required");
    if (fs::exists(o.out_dir) && !(fs::is_directory(o.out_dir) && fs::is_empty(o.out_dir)))
        throw Error(ErrorKind::conflict, o.out_dir + ": already exists and is not empty",
                    "choose a new --out directory; llmtune never overwrites a model");
    if (o.dtype != torch::kFloat32 && o.dtype != torch::kBFloat16)
        throw_invalid("model init writes f32 or bf16 weights", "pass --dtype f32 or --dtype bf16");

    auto files = tokenizer::find_tokenizer_files(o.tokenizer);
    auto summary = tokenizer::summarize_tokenizer(files);
    ModelConfig cfg = preset_config(o.preset, o.arch, summary.vocab_extent);
    cfg.bos_token_id = summary.bos_id;
    cfg.pad_token_id = summary.pad_id;
    if (summary.eos_id) cfg.eos_token_ids = {*summary.eos_id};
    cfg.torch_dtype = o.dtype == torch::kBFloat16 ? "bfloat16" : "float32";

    // Generation also stops at the chat template's end-of-turn token.
    json tj = tokenizer_json_of(files);
    std::string tmpl =
        summary.chat_template.value_or(tokenizer::default_chat_template(tj, summary.bos_token));
    std::vector<int64_t> gen_eos = cfg.eos_token_ids;
    for (const char* eot : {"<|im_end|>", "<|eot_id|>", "<|endoftext|>", "</s>"}) {
        auto id = tokenizer::token_id(tj, eot);
        if (id && tmpl.find(eot) != std::string::npos &&
            std::find(gen_eos.begin(), gen_eos.end(), *id) == gen_eos.end())
            gen_eos.push_back(*id);
    }

    // Build in a sibling temp directory and rename, so a crash leaves no half-written model.
    fs::path out = fs::absolute(o.out_dir);
    fs::path tmp =
        out.parent_path() / (out.filename().string() + ".tmp." + std::to_string(getpid()));
    make_dirs(out.parent_path().string());
    fs::remove_all(tmp);
    make_dirs(tmp.string());
    try {
        CausalLM lm(cfg, torch::TensorOptions().dtype(o.dtype));
        init_random_weights(lm, o.seed);
        write_json_file((tmp / "config.json").string(), model_config_to_json(cfg));
        write_json_file((tmp / "generation_config.json").string(),
                        generation_config_json(cfg, gen_eos));
        write_checkpoint(tmp.string(), model_state(lm), o.max_shard_bytes);
        copy_tokenizer(files, summary, tmp.string());
        if (fs::exists(out)) fs::remove(out);  // empty directory, checked above
        fs::rename(tmp, out);
    } catch (...) {
        std::error_code ec;
        fs::remove_all(tmp, ec);
        throw;
    }
    return cfg;
}

}  // namespace llmtune::model
