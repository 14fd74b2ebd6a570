// llmtune model init: write a random-initialized Hugging Face model directory.
#include <cstdio>

#include "cli/cli_common.h"
#include "common/error.h"
#include "model/loader.h"
#include "model/model_config.h"
#include "model/model_init.h"

namespace llmtune::cli {

void register_model_init(CLI::App& model) {
    struct Args {
        std::string arch, preset = "tiny", tokenizer, out, dtype = "f32";
        uint64_t seed = 0;
        double max_shard_gb = 5.0;
    };
    auto args = std::make_shared<Args>();
    std::string presets;
    for (const auto& p : model::model_presets())
        presets += "\n  " + p.name + ": " + p.description;
    auto* cmd = model.add_subcommand(
        "init",
        "Write a random-initialized Hugging Face model directory (config.json, "
        "model.safetensors, generation_config.json, tokenizer files with a chat template)");
    cmd->add_option("--arch", args->arch,
                    "llama | mistral | qwen2 | qwen3 (defaults to the preset's)");
    cmd->add_option("--preset", args->preset, "model shape; one of:" + presets)
        ->capture_default_str();
    cmd->add_option("--tokenizer", args->tokenizer,
                    "a tokenizer.json, or a model directory holding one")
        ->required();
    cmd->add_option("--out", args->out, "the directory to create (must not exist or be empty)")
        ->required();
    cmd->add_option("--seed", args->seed, "random seed for the weights")->capture_default_str();
    cmd->add_option("--dtype", args->dtype, "f32 | bf16: the stored dtype")->capture_default_str();
    cmd->add_option("--max-shard-gb", args->max_shard_gb,
                    "split the weights into shards of at most this many GB (with an index)")
        ->capture_default_str();
    cmd->callback([args] {
        model::InitOptions o;
        if (!args->arch.empty()) {
            o.arch = model::architecture_from_name(args->arch);
            if (!o.arch)
                throw_invalid("unknown --arch '" + args->arch + "'",
                              "use llama, mistral, qwen2 or qwen3");
        }
        if (!(args->max_shard_gb > 0)) throw_invalid("--max-shard-gb must be positive");
        o.preset = args->preset;
        o.tokenizer = args->tokenizer;
        o.out_dir = args->out;
        o.seed = args->seed;
        o.dtype = model::parse_dtype(args->dtype);
        o.max_shard_bytes = static_cast<uint64_t>(args->max_shard_gb * 1e9);
        auto cfg = model::init_model_dir(o);
        std::printf("wrote %s: %s, preset %s, %.2fM parameters, %s\n", o.out_dir.c_str(),
                    model::architecture_class_name(cfg.arch), o.preset.c_str(),
                    static_cast<double>(model::count_parameters(cfg)) / 1e6, args->dtype.c_str());
    });
}

}  // namespace llmtune::cli
