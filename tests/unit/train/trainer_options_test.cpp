// Trainer options end to end: early stopping, packing, a bf16 base under f32 adapters,
// gradient checkpointing (same losses as without, dropout included), and a fresh start over a
// failed run.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/error.h"
#include "model/safetensors.h"
#include "train/checkpoint.h"
#include "train/metrics_log.h"
#include "train/trainer.h"
#include "trainer_test_util.h"

namespace fs = std::filesystem;

namespace llmtune::train {
namespace {

using namespace testing;

class TrainerOptions : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        dir_ = new test::TempDir;
        make_tiny_model(dir_->file("m"), 1.0, 1);
        test::write_file(dir_->file("train.jsonl"), chat_data(10));
    }
    static void TearDownTestSuite() {
        delete dir_;
        dir_ = nullptr;
    }
    TrainConfig config(const std::string& out) {
        return fast_config(dir_->file("m"), dir_->file("train.jsonl"), dir_->file(out));
    }
    static test::TempDir* dir_;
};
test::TempDir* TrainerOptions::dir_ = nullptr;

TEST_F(TrainerOptions, EarlyStoppingStopsWhenValidLossStopsImproving) {
    TrainConfig c = config("early");
    c.data.validation_split = 0.2;
    c.training.max_steps = 10;
    c.eval.eval_steps = 1;
    c.eval.early_stopping_patience = 2;
    // No improvement can exceed this, so only the first evaluation sets the best loss.
    c.eval.early_stopping_min_delta = 1e9;
    const TrainResult r = run_training(c);
    EXPECT_EQ(r.stop_reason, "early_stopping");
    EXPECT_EQ(r.steps, 3);  // evaluations at 1 (best), 2 and 3 (no improvement twice)
    EXPECT_EQ(latest_checkpoint(c.output.dir + "/checkpoints")->step, 3);
    int early = 0;
    for (const auto& e : read_events(c.output.dir + "/events.jsonl"))
        early += e.value("type", "") == "early_stop";
    EXPECT_EQ(early, 1);
    const json m = read_json_file(c.output.dir + "/manifest.json");
    EXPECT_EQ(m["training"]["stop_reason"], "early_stopping");
}

TEST_F(TrainerOptions, PackingPutsSeveralExamplesInARow) {
    TrainConfig c = config("packed");
    c.data.packing = true;
    c.data.max_seq_len = 64;
    c.training.max_steps = 2;
    run_training(c);
    int64_t rows = -1, examples = -1;
    for (const auto& e : read_events(c.output.dir + "/events.jsonl"))
        if (e.value("type", "") == "start") {
            rows = e["train_rows"];
            examples = e["train_examples"];
        }
    EXPECT_EQ(examples, 10);
    EXPECT_GT(rows, 0);
    EXPECT_LT(rows, examples);  // short chats: several per 64-token row
}

TEST_F(TrainerOptions, Bf16BaseTrainsF32Adapters) {
    TrainConfig c = config("bf16");
    c.model.dtype = "bf16";
    c.training.max_steps = 3;
    c.training.learning_rate = 1e-2;
    const TrainResult r = run_training(c);
    auto f = model::SafetensorsFile::open(c.output.dir + "/adapter_model.safetensors");
    for (const auto& info : f->header().tensors)
        EXPECT_EQ(info.dtype, model::StDtype::F32) << info.name;
    auto opt = model::SafetensorsFile::open(latest_checkpoint(c.output.dir + "/checkpoints")->dir +
                                            "/optimizer.safetensors");
    for (const auto& info : opt->header().tensors)
        if (info.name.rfind("exp_avg", 0) == 0) EXPECT_EQ(info.dtype, model::StDtype::F32);
    auto losses = losses_by_step(c.output.dir + "/events.jsonl");
    ASSERT_EQ(losses.size(), 3u);
    EXPECT_LT(losses[3], losses[1]);
}

TEST_F(TrainerOptions, GradientCheckpointingGivesTheSameLosses) {
    TrainConfig a = config("plain");
    a.training.max_steps = 3;
    a.lora.dropout = 0.2;  // the recomputed forward must draw the same masks
    run_training(a);
    TrainConfig b = config("recompute");
    b.training.max_steps = 3;
    b.lora.dropout = 0.2;
    b.training.gradient_checkpointing = true;
    run_training(b);
    auto la = losses_by_step(a.output.dir + "/events.jsonl");
    auto lb = losses_by_step(b.output.dir + "/events.jsonl");
    ASSERT_EQ(la.size(), 3u);
    for (int64_t s = 1; s <= 3; ++s)
        EXPECT_NEAR(la[s], lb[s], 1e-5 * la[s]) << "step " << s;
    EXPECT_LE(max_rel_diff(a.output.dir + "/adapter_model.safetensors",
                           b.output.dir + "/adapter_model.safetensors"),
              1e-4);
}

TEST_F(TrainerOptions, AFreshStartReplacesTheEventsOfARunThatDiedBeforeItsFirstCheckpoint) {
    TrainConfig c = config("restart");
    c.training.max_steps = 2;
    fs::create_directories(c.output.dir);
    test::write_file(c.output.dir + "/events.jsonl", "{\"type\":\"start\",\"step\":0}\n");
    run_training(c);
    int starts = 0;
    for (const auto& e : read_events(c.output.dir + "/events.jsonl"))
        starts += e.value("type", "") == "start";
    EXPECT_EQ(starts, 1);
}

}  // namespace
}  // namespace llmtune::train
