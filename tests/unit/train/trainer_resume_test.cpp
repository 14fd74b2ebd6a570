// Exact resume in-process: a run stopped after N steps (through the stop flag, as Ctrl-C does)
// and resumed gives the same loss at every step and the same final weights as a run of 2N
// steps straight, for LoRA with dropout (the RNG state matters) and for full fine-tuning.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>

#include "common/error.h"
#include "train/checkpoint.h"
#include "train/metrics_log.h"
#include "train/trainer.h"
#include "trainer_test_util.h"

namespace fs = std::filesystem;

namespace llmtune::train {
namespace {

using namespace testing;

// Runs `c` but stops (like Ctrl-C) once step `stop_at` is done; expects the cancelled error.
void run_until(const TrainConfig& c, int64_t stop_at, const ResumeOptions& resume = {}) {
    std::atomic<bool> stop{false};
    TrainerHooks hooks;
    hooks.stop = &stop;
    hooks.on_event = [&](const ordered_json& e) {
        if (e.value("type", "") == "train" && e.value("step", int64_t{0}) == stop_at)
            stop.store(true);
    };
    try {
        run_training(c, resume, hooks);
        FAIL() << "the run was not stopped";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::cancelled) << e.message();
        EXPECT_NE(e.message().find("stopped on request at step " + std::to_string(stop_at)),
                  std::string::npos)
            << e.message();
    }
}

void expect_same_run(const std::string& straight, const std::string& resumed,
                     const std::string& weights_file, int64_t steps) {
    auto a = losses_by_step(straight + "/events.jsonl");
    auto b = losses_by_step(resumed + "/events.jsonl");
    ASSERT_EQ(a.size(), static_cast<size_t>(steps));
    ASSERT_EQ(b.size(), static_cast<size_t>(steps));
    for (int64_t s = 1; s <= steps; ++s)
        EXPECT_NEAR(a[s], b[s], 1e-6 * std::abs(a[s])) << "step " << s;
    EXPECT_LE(max_rel_diff(straight + "/" + weights_file, resumed + "/" + weights_file), 1e-6);
}

TEST(TrainerResume, LoraWithDropoutStoppedAndResumedMatchesStraight) {
    test::TempDir d;
    make_tiny_model(d.file("m"), 1.0, 2);
    test::write_file(d.file("train.jsonl"), chat_data(10));
    TrainConfig c = fast_config(d.file("m"), d.file("train.jsonl"), d.file("straight"));
    c.lora.dropout = 0.1;  // draws from the CPU generator: the checkpoint must restore it
    c.training.gradient_accumulation_steps = 2;  // 5 batches/epoch -> 3 steps/epoch
    c.training.max_steps = 6;
    c.training.warmup_steps = 2;
    run_training(c);

    TrainConfig r = c;
    r.output.dir = d.file("resumed");
    run_until(r, 2);  // mid-epoch
    auto latest = latest_checkpoint(r.output.dir + "/checkpoints");
    ASSERT_TRUE(latest);
    EXPECT_EQ(latest->step, 2);
    EXPECT_FALSE(fs::exists(r.output.dir + "/manifest.json"));
    ResumeOptions resume;
    resume.resume = true;
    const TrainResult res = run_training(r, resume);
    EXPECT_EQ(res.steps, 6);
    expect_same_run(c.output.dir, r.output.dir, "adapter_model.safetensors", 6);
    // The events log has each step once, and says where the run resumed.
    int resumes = 0;
    for (const auto& e : read_events(r.output.dir + "/events.jsonl"))
        resumes += e.value("type", "") == "resume";
    EXPECT_EQ(resumes, 1);
}

TEST(TrainerResume, FullFineTuningResumesFromANamedCheckpoint) {
    test::TempDir d;
    make_tiny_model(d.file("m"), 1.0, 1);
    test::write_file(d.file("train.jsonl"), chat_data(6));
    TrainConfig c = fast_config(d.file("m"), d.file("train.jsonl"), d.file("straight"));
    c.training.method = "full";
    c.training.max_steps = 4;
    c.training.learning_rate = 1e-4;
    c.training.weight_decay = 0.1;
    c.output.save_steps = 1;
    run_training(c);
    EXPECT_EQ(list_checkpoints(c.output.dir + "/checkpoints").size(), 4u);

    // Resume the straight run's own step-2 checkpoint into a copy of its directory.
    TrainConfig r = c;
    r.output.dir = d.file("resumed");
    fs::create_directories(r.output.dir + "/checkpoints");
    fs::copy(c.output.dir + "/checkpoints/step-2", r.output.dir + "/checkpoints/step-2",
             fs::copy_options::recursive);
    fs::copy(c.output.dir + "/events.jsonl", r.output.dir + "/events.jsonl");
    ResumeOptions resume;
    resume.resume = true;
    resume.checkpoint = "step-2";
    run_training(r, resume);
    expect_same_run(c.output.dir, r.output.dir, "model.safetensors", 4);
}

TEST(TrainerResume, AChangedSettingOrDatasetIsRefusedWithTheDifferences) {
    test::TempDir d;
    make_tiny_model(d.file("m"), 1.0, 1);
    test::write_file(d.file("train.jsonl"), chat_data(4));
    TrainConfig c = fast_config(d.file("m"), d.file("train.jsonl"), d.file("out"));
    c.training.max_steps = 4;
    run_until(c, 1);

    TrainConfig changed = c;
    changed.training.learning_rate = 2e-3;
    changed.lora.r = 8;
    changed.eval.eval_steps = 3;  // not relevant to the trajectory: not reported
    ResumeOptions resume;
    resume.resume = true;
    try {
        run_training(changed, resume);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::conflict);
        EXPECT_NE(e.message().find("lora.r: 4 -> 8"), std::string::npos) << e.message();
        EXPECT_NE(e.message().find("training.learning_rate: 0.001 -> 0.002"), std::string::npos)
            << e.message();
        EXPECT_EQ(e.message().find("eval_steps"), std::string::npos) << e.message();
    }
    // The same settings on different data.
    test::write_file(d.file("train.jsonl"), chat_data(5));
    try {
        run_training(c, resume);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::conflict);
        EXPECT_NE(e.message().find("dataset sha256"), std::string::npos) << e.message();
    }
    // Starting over in a directory that holds a run needs --resume.
    test::write_file(d.file("train.jsonl"), chat_data(4));
    try {
        run_training(c);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::conflict);
    }
    // Resuming where there is nothing to resume.
    TrainConfig fresh = c;
    fresh.output.dir = d.file("fresh");
    try {
        run_training(fresh, resume);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::not_found);
    }
}

}  // namespace
}  // namespace llmtune::train
