// llmtune generate: run a model on a prompt with the KV cache and stream the result.
#include <cstdio>

#include "cli/cli_common.h"
#include "common/error.h"
#include "infer/generator.h"
#include "infer/tokenizer_decoder.h"
#include "model/loader.h"
#include "model/peft_adapter.h"

namespace llmtune::cli {

namespace {

// The compute dtype when --dtype is not given: bf16 checkpoints run in bf16, the rest in f32
// (f16 has no fast path on CPUs).
torch::Dtype default_dtype(const model::ModelConfig& cfg) {
    return cfg.torch_dtype == "bfloat16" ? torch::kBFloat16 : torch::kFloat32;
}

}  // namespace

void register_generate(CLI::App& app) {
    struct Args {
        std::string model_dir, adapter, prompt, prompt_ids, dtype, device = "cpu";
        infer::GenerationParams gen;
        int threads = 0;
        bool json = false;
    };
    auto args = std::make_shared<Args>();
    args->gen.max_tokens = 128;
    auto* cmd = app.add_subcommand("generate", "Generate a continuation of a prompt");
    cmd->add_option("--model", args->model_dir, "a Hugging Face model directory")->required();
    cmd->add_option("--adapter", args->adapter, "a PEFT LoRA adapter directory to apply");
    auto* prompt = cmd->add_option("--prompt", args->prompt,
                                   "the prompt text (tokenized with the model's tokenizer)");
    auto* ids =
        cmd->add_option("--prompt-ids", args->prompt_ids, "the prompt as token ids, e.g. 1,2,3");
    prompt->excludes(ids);
    cmd->add_option("--stop", args->gen.stop, "stop before this string (repeatable)");
    cmd->add_option("--max-tokens", args->gen.max_tokens, "new tokens at most")
        ->capture_default_str();
    cmd->add_option("--temperature", args->gen.sampling.temperature, "0 = greedy")
        ->capture_default_str();
    cmd->add_option("--top-k", args->gen.sampling.top_k, "keep the k most likely tokens (0 = off)")
        ->capture_default_str();
    cmd->add_option("--top-p", args->gen.sampling.top_p, "nucleus sampling mass (1 = off)")
        ->capture_default_str();
    cmd->add_option("--min-p", args->gen.sampling.min_p,
                    "drop tokens below min_p x the top probability (0 = off)")
        ->capture_default_str();
    cmd->add_option("--repetition-penalty", args->gen.sampling.repetition_penalty, "1 = off")
        ->capture_default_str();
    cmd->add_option("--seed", args->gen.sampling.seed, "sampling seed")->capture_default_str();
    cmd->add_option("--dtype", args->dtype,
                    "f32 | bf16 (default: bf16 for bf16 checkpoints, else f32)");
    cmd->add_option("--device", args->device, "cpu | cuda | cuda:N")->capture_default_str();
    cmd->add_option("--threads", args->threads, "CPU threads (0 = one per core)")
        ->capture_default_str();
    cmd->add_flag("--json", args->json,
                  "print one JSON object with ids, finish reason and timings");
    cmd->callback([args] {
        set_threads(args->threads);
        args->gen.sampling.validate();
        if (args->prompt.empty() == args->prompt_ids.empty())
            usage_error("give exactly one of --prompt and --prompt-ids");
        std::vector<int64_t> prompt;
        if (!args->prompt_ids.empty()) prompt = parse_id_list(args->prompt_ids, "--prompt-ids");
        auto cfg = model::load_model_config(args->model_dir);
        // The tokenizer is needed for text in or out; with bare ids it is used when present.
        std::shared_ptr<tokenizer::Tokenizer> tok;
        try {
            tok = tokenizer::Tokenizer::load(args->model_dir);
        } catch (const Error& e) {
            if (e.kind() != ErrorKind::not_found || !args->prompt.empty()) throw;
        }
        if (!args->prompt.empty()) prompt = tok->encode(args->prompt, /*add_special_tokens=*/true);
        model::LoadOptions lo;
        lo.dtype = args->dtype.empty() ? default_dtype(cfg) : model::parse_dtype(args->dtype);
        lo.device = model::parse_device(args->device);
        auto lm = model::load_causal_lm(args->model_dir, lo);
        if (!args->adapter.empty()) model::load_peft_adapter(args->adapter, lm);
        auto params = args->gen;
        params.eos_ids = infer::load_eos_ids(args->model_dir, cfg);
        std::unique_ptr<infer::TokenizerDecoder> decoder;
        if (tok) decoder = std::make_unique<infer::TokenizerDecoder>(tok);
        bool first = true;
        // Streams text when there is a tokenizer, ids otherwise.
        auto on_token = [&](int64_t id, const std::string& text) {
            if (args->json) return true;
            if (decoder) {
                std::fputs(text.c_str(), stdout);
            } else if (id >= 0) {
                std::printf("%s%lld", first ? "" : ",", static_cast<long long>(id));
                first = false;
            }
            std::fflush(stdout);
            return true;
        };
        auto r = infer::generate(lm, prompt, params, decoder.get(), on_token);
        if (args->json) {
            ordered_json j = {{"text", r.text},
                              {"tokens", r.tokens},
                              {"finish_reason", r.finish_reason},
                              {"prompt_tokens", r.prompt_tokens},
                              {"completion_tokens", r.tokens.size()},
                              {"prefill_seconds", r.prefill_seconds},
                              {"decode_seconds", r.decode_seconds}};
            std::printf("%s\n", j.dump().c_str());
        } else {
            std::printf("\n");
            std::fprintf(stderr, "finish_reason=%s prompt_tokens=%lld completion_tokens=%zu\n",
                         r.finish_reason.c_str(), static_cast<long long>(r.prompt_tokens),
                         r.tokens.size());
        }
    });
}

}  // namespace llmtune::cli
