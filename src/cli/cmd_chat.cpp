// llmtune chat: an interactive conversation through the model's chat template.
#include <cstdio>
#include <iostream>

#include "cli/cli_common.h"
#include "common/error.h"
#include "infer/generator.h"
#include "infer/tokenizer_decoder.h"
#include "model/loader.h"
#include "model/peft_adapter.h"
#include "tokenizer/jinja/chat_template.h"

namespace llmtune::cli {

void register_chat(CLI::App& app) {
    struct Args {
        std::string model_dir, adapter, system, dtype, device = "cpu";
        infer::GenerationParams gen;
        int threads = 0;
    };
    auto a = std::make_shared<Args>();
    a->gen.max_tokens = 512;
    a->gen.sampling.temperature = 0.7;
    auto* cmd = app.add_subcommand("chat",
                                   "Chat with a model on the terminal (uses its chat template); "
                                   "an empty line or end of input quits");
    cmd->add_option("--model", a->model_dir, "a Hugging Face model directory")->required();
    cmd->add_option("--adapter", a->adapter, "a PEFT LoRA adapter directory to apply");
    cmd->add_option("--system", a->system, "a system message");
    cmd->add_option("--max-tokens", a->gen.max_tokens, "new tokens per reply at most")
        ->capture_default_str();
    cmd->add_option("--temperature", a->gen.sampling.temperature, "0 = greedy")
        ->capture_default_str();
    cmd->add_option("--top-p", a->gen.sampling.top_p, "nucleus sampling mass (1 = off)")
        ->capture_default_str();
    cmd->add_option("--seed", a->gen.sampling.seed, "sampling seed")->capture_default_str();
    cmd->add_option("--dtype", a->dtype, "f32 | bf16 (default: the checkpoint's, f32 for f16)");
    cmd->add_option("--device", a->device, "cpu | cuda | cuda:N")->capture_default_str();
    cmd->add_option("--threads", a->threads, "CPU threads (0 = one per core)")
        ->capture_default_str();
    cmd->callback([a] {
        set_threads(a->threads);
        a->gen.sampling.validate();
        auto cfg = model::load_model_config(a->model_dir);
        auto tok = tokenizer::Tokenizer::load(a->model_dir);
        auto tmpl = tokenizer::ChatTemplate::from_tokenizer_config(a->model_dir);
        model::LoadOptions lo;
        lo.dtype = a->dtype.empty()
                       ? (cfg.torch_dtype == "bfloat16" ? torch::kBFloat16 : torch::kFloat32)
                       : model::parse_dtype(a->dtype);
        lo.device = model::parse_device(a->device);
        auto lm = model::load_causal_lm(a->model_dir, lo);
        if (!a->adapter.empty()) model::load_peft_adapter(a->adapter, lm);
        auto params = a->gen;
        params.eos_ids = infer::load_eos_ids(a->model_dir, cfg);
        infer::TokenizerDecoder decoder(tok);

        tokenizer::ChatTemplateInputs in;
        tokenizer::load_special_tokens(a->model_dir, in);
        in.add_generation_prompt = true;
        if (!a->system.empty()) in.messages.push_back({{"role", "system"}, {"content", a->system}});
        std::string line;
        while (true) {
            std::fputs("> ", stderr);
            if (!std::getline(std::cin, line) || line.empty()) break;
            in.messages.push_back({{"role", "user"}, {"content", line}});
            // The template writes BOS itself where the model wants one.
            auto ids = tok->encode(tmpl.render(in), /*add_special_tokens=*/false);
            auto r =
                infer::generate(lm, ids, params, &decoder, [](int64_t, const std::string& text) {
                    std::fputs(text.c_str(), stdout);
                    std::fflush(stdout);
                    return true;
                });
            std::fputs("\n", stdout);
            in.messages.push_back({{"role", "assistant"}, {"content", r.text}});
            params.sampling.seed += 1;  // a new draw each turn, still reproducible
        }
    });
}

}  // namespace llmtune::cli
