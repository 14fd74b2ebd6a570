// What a run leaves behind: the PEFT adapter or HF directory (loadable), manifest.json with
// hashes checked against sha256sum, events with OpenAI's metric names, checkpoint contents;
// and LoRA at initialization (B = 0) computing exactly the base model's logits.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <tuple>

#include "common/error.h"
#include "model/loader.h"
#include "model/lora.h"
#include "model/peft_adapter.h"
#include "train/checkpoint.h"
#include "train/metrics_log.h"
#include "train/trainer.h"
#include "trainer_test_util.h"

namespace fs = std::filesystem;

namespace llmtune::train {
namespace {

using namespace testing;

std::string sha256sum(const std::string& path) {
    auto r = test::run_command("sha256sum '" + path + "'");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.substr(0, 64);
}

TEST(TrainerArtifacts, LoraAtInitializationGivesTheBaseLogitsExactly) {
    test::TempDir d;
    make_tiny_model(d.file("m"), 1.0, 2);
    for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
        model::LoadOptions lo;
        lo.dtype = dtype;
        auto base = model::load_causal_lm(d.file("m"), lo);
        auto adapted = model::load_causal_lm(d.file("m"), lo);
        model::LoraConfig l;
        l.r = 8;
        l.alpha = 16;
        l.target_modules = {"all-linear"};
        model::apply_lora(adapted, l, 3);
        // A is random, B is zero.
        for (const auto& [name, t] : model::lora_parameters(adapted)) {
            if (name.find("lora_B") != std::string::npos)
                EXPECT_EQ(t.abs().max().item<double>(), 0.0) << name;
            else
                EXPECT_GT(t.abs().max().item<double>(), 0.0) << name;
        }
        model::ForwardArgs a;
        a.input_ids = torch::tensor({1, 450, 4996, 17354, 1701, 29916}).unsqueeze(0);
        torch::NoGradGuard g;
        EXPECT_TRUE(torch::equal(base->forward(a), adapted->forward(a)))
            << "dtype " << c10::toString(dtype);
    }
}

TEST(TrainerArtifacts, LoraRunWritesAdapterManifestEventsAndCheckpoints) {
    test::TempDir d;
    make_tiny_model(d.file("m"), 1.0, 2);
    test::write_file(d.file("train.jsonl"), chat_data(12));
    TrainConfig c = fast_config(d.file("m"), d.file("train.jsonl"), d.file("out"));
    c.data.validation_split = 0.25;
    c.training.max_steps = 4;
    c.eval.eval_steps = 2;
    c.output.save_steps = 2;
    c.output.save_total_limit = 1;
    const TrainResult r = run_training(c);
    EXPECT_EQ(r.steps, 4);
    EXPECT_EQ(r.stop_reason, "completed");

    // The adapter loads as a PEFT adapter onto the base.
    auto lm = model::load_causal_lm(d.file("m"), {});
    model::LoraConfig loaded = model::load_peft_adapter(d.file("out"), lm);
    EXPECT_EQ(loaded.r, 4);
    EXPECT_EQ(loaded.resolved_targets().size(), 7u);  // all-linear

    // Checkpoints: save_total_limit 1 keeps the final one only, and it is complete.
    auto all = list_checkpoints(d.file("out/checkpoints"));
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].step, 4);
    TrainerState s = read_trainer_state(all[0].dir);
    EXPECT_EQ(s.step, 4);
    EXPECT_EQ(s.total_steps, 4);
    EXPECT_EQ(s.model_sha256.size(), 64u);
    EXPECT_EQ(s.datasets["train"][0], sha256sum(d.file("train.jsonl")));
    // The final adapter equals the final checkpoint's.
    EXPECT_EQ(max_rel_diff(d.file("out/adapter_model.safetensors"),
                           all[0].dir + "/adapter/adapter_model.safetensors"),
              0.0);

    // Events: OpenAI metric names, one train event per step, evals at 2 and 4.
    std::set<int64_t> train_steps, eval_steps;
    for (const auto& e : read_events(d.file("out/events.jsonl"))) {
        const std::string type = e["type"];
        if (type == "train") {
            train_steps.insert(e["step"].get<int64_t>());
            for (const char* k :
                 {"step", "total_steps", "epoch", "train_loss", "train_mean_token_accuracy", "lr",
                  "grad_norm", "tokens_per_s", "elapsed_s", "eta_s", "time"})
                EXPECT_TRUE(e.contains(k)) << k;
            EXPECT_GT(e["train_loss"].get<double>(), 0.0);
        } else if (type == "eval") {
            eval_steps.insert(e["step"].get<int64_t>());
            EXPECT_GT(e["valid_loss"].get<double>(), 0.0);
            EXPECT_GE(e["valid_mean_token_accuracy"].get<double>(), 0.0);
        }
    }
    EXPECT_EQ(train_steps, (std::set<int64_t>{1, 2, 3, 4}));
    EXPECT_EQ(eval_steps, (std::set<int64_t>{2, 4}));

    // The manifest, checked against independent computations.
    const json m = read_json_file(d.file("out/manifest.json"));
    EXPECT_EQ(m["method"], "lora");
    const std::string commit = m["git_commit"];
    ASSERT_EQ(commit.size(), 40u) << commit;
    auto git =
        test::run_command("git -C '" + std::string(LLMTUNE_SOURCE_DIR) + "' cat-file -t " + commit);
    EXPECT_EQ(git.out, "commit\n") << "git_commit is not a commit of this repository";
    EXPECT_EQ(m["llmtune_version"], "0.1.0");
    EXPECT_EQ(m["base_model"]["files"][0]["file"], "model.safetensors");
    const std::string model_sha = sha256sum(d.file("m/model.safetensors"));
    EXPECT_EQ(m["base_model"]["files"][0]["sha256"], model_sha);
    // The combined hash is sha256sum's own listing format, hashed.
    test::write_file(d.file("listing"), model_sha + "  model.safetensors\n");
    EXPECT_EQ(m["base_model"]["sha256"], sha256sum(d.file("listing")));
    EXPECT_EQ(m["base_model"]["sha256"], s.model_sha256);
    ASSERT_EQ(m["datasets"].size(), 1u);
    EXPECT_EQ(m["datasets"][0]["sha256"], sha256sum(d.file("train.jsonl")));
    EXPECT_EQ(m["datasets"][0]["records"], 12);
    EXPECT_EQ(m["datasets"][0]["examples"], 9);  // 3 of 12 went to validation
    EXPECT_EQ(m["hyperparameters"], json(c.to_json()));
    EXPECT_EQ(m["training"]["steps"], 4);
    EXPECT_EQ(m["training"]["valid_examples"], 3);
    for (const char* k :
         {"train_loss", "train_mean_token_accuracy", "valid_loss", "valid_mean_token_accuracy"})
        EXPECT_TRUE(m["final_metrics"].contains(k)) << k;
    const std::string tpl = m["chat_template"];
    EXPECT_NE(tpl.find("[INST]"), std::string::npos);  // the Llama 2 template of the tokenizer
    EXPECT_EQ(m["output"],
              json({"adapter_config.json", "adapter_model.safetensors", "manifest.json"}));
}

TEST(TrainerArtifacts, FullRunWritesALoadableModelDirectory) {
    test::TempDir d;
    make_tiny_model(d.file("m"), 1.0, 1);
    test::write_file(d.file("train.jsonl"), chat_data(4));
    TrainConfig c = fast_config(d.file("m"), d.file("train.jsonl"), d.file("out"));
    c.training.method = "full";
    c.training.max_steps = 2;
    run_training(c);
    for (const char* f : {"config.json", "model.safetensors", "tokenizer.json",
                          "tokenizer_config.json", "generation_config.json", "manifest.json"})
        EXPECT_TRUE(fs::exists(d.file("out/") + f)) << f;
    auto lm = model::load_causal_lm(d.file("out"), {});  // loads as a model of its own
    EXPECT_GT(max_rel_diff(d.file("out/model.safetensors"), d.file("m/model.safetensors")), 0.0);
    const json m = read_json_file(d.file("out/manifest.json"));
    EXPECT_EQ(m["method"], "full");
}

TEST(TrainerArtifacts, ManifestCountsExamplesPerFile) {
    test::TempDir d;
    make_tiny_model(d.file("m"), 1.0, 1);
    test::write_file(d.file("a.jsonl"), chat_data(3));
    // One record of b trains on nothing (weight 0) and is skipped.
    test::write_file(d.file("b.jsonl"), chat_data(3) + chat_line("Q?", "A.", /*weight0=*/true));
    test::write_file(d.file("v.jsonl"), chat_data(2));
    TrainConfig c = fast_config(d.file("m"), d.file("a.jsonl"), d.file("out"));
    c.data.train.push_back(d.file("b.jsonl"));
    c.data.validation = d.file("v.jsonl");
    c.training.max_steps = 1;
    run_training(c);
    const json m = read_json_file(d.file("out/manifest.json"));
    ASSERT_EQ(m["datasets"].size(), 3u);
    const std::vector<std::tuple<std::string, std::string, int, int>> expected = {
        {"train", "a.jsonl", 3, 3}, {"train", "b.jsonl", 4, 3}, {"validation", "v.jsonl", 2, 2}};
    for (size_t i = 0; i < expected.size(); ++i) {
        const auto& [role, file, records, examples] = expected[i];
        EXPECT_EQ(m["datasets"][i]["role"], role);
        EXPECT_EQ(m["datasets"][i]["path"], d.file(file));
        EXPECT_EQ(m["datasets"][i]["sha256"], sha256sum(d.file(file)));
        EXPECT_EQ(m["datasets"][i]["records"], records) << file;
        EXPECT_EQ(m["datasets"][i]["examples"], examples) << file;
    }
    EXPECT_EQ(m["training"]["train_examples"], 6);
    EXPECT_EQ(m["training"]["valid_examples"], 2);
}

}  // namespace
}  // namespace llmtune::train
