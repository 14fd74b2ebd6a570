// Checkpoints: contents, exact round trip of weights, optimizer and RNG, and crash safety of
// the directory commit (a failure while writing never leaves a new step-N behind).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "common/error.h"
#include "model/lora.h"
#include "model/model_init.h"
#include "model/peft_adapter.h"
#include "model/safetensors.h"
#include "support/test_support.h"
#include "train/adamw.h"
#include "train/checkpoint.h"

namespace fs = std::filesystem;

namespace llmtune::train {
namespace {

model::CausalLM tiny_model() {
    model::ModelConfig c = model::preset_config("tiny", model::Architecture::llama, 300);
    c.num_hidden_layers = 2;
    model::CausalLM lm(c, torch::TensorOptions().dtype(torch::kFloat32));
    model::init_random_weights(lm, 3);
    return lm;
}

model::LoraConfig lora_cfg(int64_t r = 4) {
    model::LoraConfig l;
    l.r = r;
    l.alpha = 8;
    l.target_modules = {"all-linear"};
    return l;
}

// One AdamW step with random gradients, so moments and weights are non-trivial.
void fake_step(AdamW& opt) {
    for (const auto& [name, p] : opt.params())
        p.mutable_grad() = torch::randn_like(p);
    opt.step(1e-2);
}

TrainerState sample_state() {
    TrainerState s;
    s.step = 7;
    s.total_steps = 20;
    s.position = {1, 2};
    s.tokens_seen = 1234;
    s.elapsed_s = 3.5;
    s.best_valid_loss = 1.25;
    s.evals_without_improvement = 1;
    s.config = {{"training", {{"learning_rate", 0.001}}}};
    s.config_hash = "abc";
    s.model_sha256 = "def";
    s.datasets = {{"train", {"11"}}, {"validation", nullptr}};
    return s;
}

TEST(Checkpoint, LoraCheckpointHoldsEverythingAndRoundTrips) {
    test::TempDir dir;
    auto lm = tiny_model();
    model::apply_lora(lm, lora_cfg(), 1);
    AdamW opt(model::lora_parameters(lm), AdamWConfig{});
    fake_step(opt);
    CheckpointModel cm{&lm, true, lora_cfg(), "base-model", &opt};
    torch::manual_seed(99);
    const std::string path = save_checkpoint(dir.file("ckpt"), sample_state(), cm);
    EXPECT_EQ(path, dir.file("ckpt") + "/step-7");
    for (const char* f : {"trainer_state.json", "optimizer.safetensors", "rng_state.safetensors",
                          "adapter/adapter_config.json", "adapter/adapter_model.safetensors"})
        EXPECT_TRUE(fs::exists(path + "/" + f)) << f;
    EXPECT_FALSE(fs::exists(path + "/model.safetensors"));
    // The adapter is a PEFT adapter a fresh model can load.
    auto other = tiny_model();
    model::load_peft_adapter(path + "/adapter", other);
    const torch::Tensor draw_after_save = torch::rand({4});

    // Trainer state round trip.
    TrainerState s = read_trainer_state(path);
    EXPECT_EQ(s.to_json(), sample_state().to_json());
    EXPECT_EQ(s.position, (DataPosition{1, 2}));

    // Perturb everything, then restore: weights, moments and the RNG come back exactly.
    std::map<std::string, torch::Tensor> saved;
    for (const auto& [n, p] : opt.params())
        saved[n] = p.detach().clone();
    auto saved_state = opt.state_dict();
    fake_step(opt);
    torch::manual_seed(5);
    load_checkpoint_weights(path, cm);
    for (const auto& [n, p] : opt.params())
        EXPECT_TRUE(torch::equal(p, saved[n])) << n;
    auto restored = opt.state_dict();
    ASSERT_EQ(restored.size(), saved_state.size());
    for (size_t i = 0; i < restored.size(); ++i) {
        EXPECT_EQ(restored[i].first, saved_state[i].first);
        EXPECT_TRUE(torch::equal(restored[i].second, saved_state[i].second)) << restored[i].first;
    }
    EXPECT_TRUE(torch::equal(torch::rand({4}), draw_after_save));
}

TEST(Checkpoint, FullCheckpointAndMismatchedModelIsRefused) {
    test::TempDir dir;
    auto lm = tiny_model();
    model::NamedTensors params;
    for (const auto& p : lm->named_parameters())
        params.emplace_back(p.key(), p.value());
    AdamW opt(params, AdamWConfig{});
    fake_step(opt);
    CheckpointModel cm{&lm, false, {}, "", &opt};
    const std::string path = save_checkpoint(dir.path(), sample_state(), cm);
    EXPECT_TRUE(fs::exists(path + "/model.safetensors"));
    EXPECT_FALSE(fs::exists(path + "/adapter"));
    auto before = lm->named_parameters()["model.norm.weight"].detach().clone();
    {
        torch::NoGradGuard g;
        lm->named_parameters()["model.norm.weight"].add_(1.0);
    }
    load_checkpoint_weights(path, cm);
    EXPECT_TRUE(torch::equal(lm->named_parameters()["model.norm.weight"], before));

    // A LoRA model of another rank cannot load a rank-4 adapter checkpoint.
    auto l4 = tiny_model();
    model::apply_lora(l4, lora_cfg(4), 1);
    AdamW o4(model::lora_parameters(l4), AdamWConfig{});
    const std::string p4 =
        save_checkpoint(dir.file("lora"), sample_state(), {&l4, true, lora_cfg(4), "b", &o4});
    auto l2 = tiny_model();
    model::apply_lora(l2, lora_cfg(2), 1);
    AdamW o2(model::lora_parameters(l2), AdamWConfig{});
    try {
        load_checkpoint_weights(p4, {&l2, true, lora_cfg(2), "b", &o2});
        FAIL() << "loaded a rank-4 checkpoint into rank-2 adapters";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
        EXPECT_NE(e.message().find("has shape [4, 192], the model needs [2, 192]"),
                  std::string::npos)
            << e.message();
    }
}

TEST(Checkpoint, AFailedWriteLeavesThePreviousCheckpointAsTheLatest) {
    test::TempDir dir;
    auto fill_ok = [](const std::string& d) { test::write_file(d + "/trainer_state.json", "{}"); };
    commit_checkpoint_dir(dir.path(), 2, fill_ok);
    // The writer fails half-way (as a full disk would): one file written, then an error.
    try {
        commit_checkpoint_dir(dir.path(), 4, [](const std::string& d) {
            test::write_file(d + "/optimizer.safetensors", "partial");
            throw Error(ErrorKind::resource_exhausted, "No space left on device");
        });
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::resource_exhausted);
        EXPECT_NE(e.message().find("cannot write checkpoint"), std::string::npos);
        EXPECT_NE(e.message().find("No space left on device"), std::string::npos);
    }
    auto latest = latest_checkpoint(dir.path());
    ASSERT_TRUE(latest.has_value());
    EXPECT_EQ(latest->step, 2);
    EXPECT_FALSE(fs::exists(dir.path() + "/step-4"));
    for (const auto& e : fs::directory_iterator(dir.path()))  // no temp directory left behind
        EXPECT_EQ(e.path().filename().string().rfind(".tmp-", 0), std::string::npos) << e.path();

    // A directory without trainer_state.json, or a stray temp directory, is not a checkpoint.
    fs::create_directories(dir.path() + "/step-9");
    fs::create_directories(dir.path() + "/.tmp-step-10.1");
    EXPECT_EQ(latest_checkpoint(dir.path())->step, 2);

    // Replacing a step keeps exactly one complete step-N.
    commit_checkpoint_dir(dir.path(), 2, [](const std::string& d) {
        test::write_file(d + "/trainer_state.json", "{\"v\": 2}");
    });
    EXPECT_EQ(test::read_file(dir.path() + "/step-2/trainer_state.json"), "{\"v\": 2}");
}

TEST(Checkpoint, PruneKeepsTheNewest) {
    test::TempDir dir;
    for (int64_t s : {10, 2, 30, 4})
        commit_checkpoint_dir(dir.path(), s, [](const std::string& d) {
            test::write_file(d + "/trainer_state.json", "{}");
        });
    auto all = list_checkpoints(dir.path());
    ASSERT_EQ(all.size(), 4u);
    EXPECT_EQ(all.front().step, 2);  // numeric order, not text order
    prune_checkpoints(dir.path(), 2);
    all = list_checkpoints(dir.path());
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].step, 10);
    EXPECT_EQ(all[1].step, 30);
    EXPECT_TRUE(list_checkpoints(dir.file("missing")).empty());
}

}  // namespace
}  // namespace llmtune::train
