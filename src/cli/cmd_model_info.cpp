// llmtune model info: what a model directory holds, without loading the weights.
#include <cstdio>
#include <filesystem>
#include <map>

#include "cli/cli_common.h"
#include "common/error.h"
#include "common/json_file.h"
#include "model/model_config.h"
#include "model/safetensors.h"
#include "tokenizer/tokenizer_files.h"

namespace llmtune::cli {

namespace {

std::string human_bytes(double b) {
    const char* units[] = {"B", "KB", "MB", "GB", "TB"};
    int u = 0;
    while (b >= 1000 && u < 4) {
        b /= 1000;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f %s", b, units[u]);
    return buf;
}

ordered_json model_info(const std::string& dir) {
    auto cfg = model::load_model_config(dir);
    auto ck = model::Checkpoint::open_dir(dir);
    std::map<std::string, int64_t> params_by_dtype;
    int64_t stored_params = 0;
    uint64_t stored_bytes = 0;
    for (const auto& name : ck.names()) {
        const auto& info = ck.info(name);
        params_by_dtype[model::st_dtype_name(info.dtype)] += info.numel();
        stored_params += info.numel();
        stored_bytes += info.end - info.begin;
    }
    ordered_json j;
    j["path"] = dir;
    j["architecture"] = model::architecture_class_name(cfg.arch);
    j["parameters"] = model::count_parameters(cfg);
    j["stored_parameters"] = stored_params;
    j["stored_dtypes"] = params_by_dtype;
    j["weights_bytes"] = stored_bytes;
    j["checkpoint_files"] = ck.num_files();
    // Memory to hold the weights for inference; activations and KV cache come on top.
    j["memory_f32_bytes"] = model::count_parameters(cfg) * 4;
    j["memory_bf16_bytes"] = model::count_parameters(cfg) * 2;
    j["config"] = {{"hidden_size", cfg.hidden_size},
                   {"intermediate_size", cfg.intermediate_size},
                   {"num_hidden_layers", cfg.num_hidden_layers},
                   {"num_attention_heads", cfg.num_attention_heads},
                   {"num_key_value_heads", cfg.num_key_value_heads},
                   {"head_dim", cfg.head_dim},
                   {"vocab_size", cfg.vocab_size},
                   {"max_position_embeddings", cfg.max_position_embeddings},
                   {"rope_theta", cfg.rope_theta},
                   {"rope_scaling", cfg.rope_scaling.type},
                   {"tie_word_embeddings", cfg.tie_word_embeddings}};
    ordered_json tok = {{"present", false}};
    try {
        auto files = tokenizer::find_tokenizer_files(dir);
        auto s = tokenizer::summarize_tokenizer(files);
        tok = {{"present", true},
               {"model", s.model_type},
               {"vocab_extent", s.vocab_extent},
               {"bos_token", s.bos_token},
               {"eos_token", s.eos_token},
               {"chat_template", s.chat_template.has_value()}};
    } catch (const Error& e) {
        if (e.kind() != ErrorKind::not_found) throw;
    }
    j["tokenizer"] = tok;
    return j;
}

}  // namespace

void register_model_info(CLI::App& model) {
    struct Args {
        std::string dir;
        bool json = false;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = model.add_subcommand("info",
                                     "Describe a Hugging Face model directory: architecture, "
                                     "parameters, dtype, memory, tokenizer, chat template");
    cmd->add_option("DIR", args->dir, "the model directory")->required();
    cmd->add_flag("--json", args->json, "print JSON instead of text");
    cmd->callback([args] {
        auto j = model_info(args->dir);
        if (args->json) {
            std::printf("%s\n", j.dump(2).c_str());
            return;
        }
        std::string dtypes;
        for (auto it = j["stored_dtypes"].begin(); it != j["stored_dtypes"].end(); ++it)
            dtypes += (dtypes.empty() ? "" : ", ") + it.key();
        const auto& c = j["config"];
        std::printf("model:          %s\n", args->dir.c_str());
        std::printf("architecture:   %s\n", j["architecture"].get<std::string>().c_str());
        std::printf("parameters:     %.2fM\n", j["parameters"].get<double>() / 1e6);
        std::printf(
            "layers:         %lld (hidden %lld, heads %lld, kv heads %lld, head_dim %lld)\n",
            c["num_hidden_layers"].get<long long>(), c["hidden_size"].get<long long>(),
            c["num_attention_heads"].get<long long>(), c["num_key_value_heads"].get<long long>(),
            c["head_dim"].get<long long>());
        std::printf("vocab:          %lld%s\n", c["vocab_size"].get<long long>(),
                    c["tie_word_embeddings"].get<bool>() ? " (tied embeddings)" : "");
        std::printf("stored dtype:   %s, %s in %lld file(s)\n", dtypes.c_str(),
                    human_bytes(j["weights_bytes"].get<double>()).c_str(),
                    j["checkpoint_files"].get<long long>());
        std::printf("memory:         %s in f32, %s in bf16 (weights only)\n",
                    human_bytes(j["memory_f32_bytes"].get<double>()).c_str(),
                    human_bytes(j["memory_bf16_bytes"].get<double>()).c_str());
        const auto& t = j["tokenizer"];
        if (t["present"].get<bool>()) {
            std::printf("tokenizer:      %s, %lld ids\n", t["model"].get<std::string>().c_str(),
                        t["vocab_extent"].get<long long>());
            std::printf("chat template:  %s\n", t["chat_template"].get<bool>() ? "yes" : "no");
        } else {
            std::printf("tokenizer:      none\nchat template:  no\n");
        }
    });
}

}  // namespace llmtune::cli
