// `llmtune generate --adapter`: the binary applies a PEFT adapter exactly as the library does.
#include <gtest/gtest.h>

#include "common/json_file.h"
#include "infer/generator.h"
#include "model/loader.h"
#include "model/lora.h"
#include "model/model_init.h"
#include "model/peft_adapter.h"
#include "support/test_support.h"

using namespace llmtune;

TEST(CliAdapter, GenerateWithAdapterMatchesTheLibraryAndDiffersFromTheBase) {
    test::TempDir tmp;
    model::InitOptions o;
    o.arch = model::Architecture::llama;
    o.tokenizer = test::npm_tokenizer_dir("llama2");
    o.out_dir = tmp.file("base");
    model::init_model_dir(o);

    // An adapter with non-zero B, so it changes the output.
    auto lm = model::load_causal_lm(o.out_dir, {});
    model::LoraConfig cfg;
    cfg.target_modules = {"all-linear"};
    model::apply_lora(lm, cfg, 5);
    {
        torch::NoGradGuard g;
        torch::manual_seed(9);
        for (auto& p : model::lora_parameters(lm)) p.second.normal_(0, 0.5);
    }
    model::save_peft_adapter(tmp.file("adapter"), lm, cfg, o.out_dir);

    const std::vector<int64_t> prompt = {1, 450, 4996, 17354};
    infer::GenerationParams p;
    p.max_tokens = 8;
    p.sampling.temperature = 0;
    auto expected = infer::generate(lm, prompt, p).tokens;

    auto run = [&](const std::string& extra) {
        auto r = test::run_command(test::llmtune_binary() + " generate --model " + o.out_dir +
                                   " --prompt-ids 1,450,4996,17354 --max-tokens 8 --temperature 0 --json" + extra);
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return json::parse(r.out)["tokens"].get<std::vector<int64_t>>();
    };
    EXPECT_EQ(run(" --adapter " + tmp.file("adapter")), expected);
    EXPECT_NE(run(""), expected) << "the adapter did not change the greedy output";
}

TEST(CliAdapter, AMissingAdapterIsNotFound) {
    test::TempDir tmp;
    model::InitOptions o;
    o.arch = model::Architecture::qwen2;
    o.tokenizer = test::npm_tokenizer_dir("llama2");
    o.out_dir = tmp.file("base");
    model::init_model_dir(o);
    auto r = test::run_command(test::llmtune_binary() + " generate --model " + o.out_dir +
                               " --prompt-ids 1 --adapter " + tmp.file("nope"));
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("llmtune: error:"), std::string::npos) << r.err;
}
