// Bad input stops the trainer with a precise error before any training: empty data, examples
// that lose every target to truncation, no trainable tokens, preference data, out-of-range
// settings; and a diverging run stops at the step that went non-finite, naming the last good
// checkpoint.
#include <gtest/gtest.h>

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

class TrainerBadInput : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        dir_ = new test::TempDir;
        make_tiny_model(dir_->file("m"), 1.0, 1);
    }
    static void TearDownTestSuite() {
        delete dir_;
        dir_ = nullptr;
    }
    // The error of training on `data` with `edit` applied to the config.
    Error error_of(const std::string& data,
                   const std::function<void(TrainConfig&)>& edit = nullptr) {
        const std::string run = dir_->file("run" + std::to_string(runs_++));
        test::write_file(run + ".jsonl", data);
        TrainConfig c = fast_config(dir_->file("m"), run + ".jsonl", run);
        if (edit) edit(c);
        try {
            run_training(c);
        } catch (const Error& e) {
            return e;
        }
        ADD_FAILURE() << "training succeeded";
        return Error(ErrorKind::internal, "");
    }
    static test::TempDir* dir_;
    static int runs_;
};
test::TempDir* TrainerBadInput::dir_ = nullptr;
int TrainerBadInput::runs_ = 0;

TEST_F(TrainerBadInput, EmptyDataset) {
    Error e = error_of("");
    EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
    EXPECT_NE(e.message().find("the file is empty"), std::string::npos) << e.message();
}

TEST_F(TrainerBadInput, EveryExampleTooLongLosesItsTargets) {
    std::string data;
    for (int i = 0; i < 3; ++i)
        data += chat_line("A long question about the history of number " + std::to_string(i) +
                              " and everything that happened to it over many years?",
                          "Short.");
    Error e = error_of(data, [](TrainConfig& c) { c.data.max_seq_len = 12; });
    EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
    EXPECT_NE(e.message().find("none of the 3 records has a token to train on (3 lost every "
                               "trained token to truncation at max_seq_len 12)"),
              std::string::npos)
        << e.message();
    EXPECT_NE(e.hint().find("max_seq_len"), std::string::npos);
}

TEST_F(TrainerBadInput, NoTrainableTokens) {
    Error e = error_of(chat_line("Q?", "A.", /*weight0=*/true) + chat_line("R?", "B.", true));
    EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
    EXPECT_NE(e.message().find("none of the 2 records has a token to train on"), std::string::npos)
        << e.message();
    EXPECT_NE(e.hint().find("train_on_inputs"), std::string::npos);
}

TEST_F(TrainerBadInput, PreferenceRecordsAreNotSupervisedData) {
    Error e = error_of(R"({"prompt": "Q?", "chosen": "A.", "rejected": "B."})"
                       "\n");
    EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
    EXPECT_NE(e.message().find("preference"), std::string::npos) << e.message();
}

TEST_F(TrainerBadInput, HyperparametersOutOfRange) {
    Error e = error_of(chat_data(2), [](TrainConfig& c) {
        c.training.learning_rate = 0;
        c.training.adam_beta2 = 1.0;
        c.lora.r = 0;
        c.training.batch_size = -1;
    });
    EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
    for (const char* k :
         {"training.learning_rate", "training.adam_beta2", "lora.r", "training.batch_size"})
        EXPECT_NE(e.message().find(k), std::string::npos) << k << "\n" << e.message();
    // Warmup longer than the run is caught by the schedule with the run's length.
    e = error_of(chat_data(2), [](TrainConfig& c) { c.training.warmup_steps = 50; });
    EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
    EXPECT_NE(e.message().find("warmup"), std::string::npos) << e.message();
}

TEST_F(TrainerBadInput, MissingModelOrData) {
    Error e = error_of(chat_data(2), [](TrainConfig& c) { c.model.path = "/nonexistent/model"; });
    EXPECT_EQ(e.kind(), ErrorKind::not_found);
    e = error_of(chat_data(2), [](TrainConfig& c) { c.data.train = {"/nonexistent.jsonl"}; });
    EXPECT_EQ(e.kind(), ErrorKind::not_found) << e.message();
}

TEST_F(TrainerBadInput, DivergenceStopsAtTheStepNamingTheLastCheckpoint) {
    std::string out;
    Error e = error_of(chat_data(4), [&](TrainConfig& c) {
        c.training.method = "full";
        c.training.learning_rate = 1e30;  // the first update destroys the weights
        c.training.max_grad_norm = 0;
        c.training.lr_scheduler_type = "constant";
        c.training.max_steps = 5;
        c.output.save_steps = 1;
        out = c.output.dir;
    });
    EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
    EXPECT_NE(e.message().find("training diverged at step 2"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("last good checkpoint: " + out + "/checkpoints/step-1"),
              std::string::npos)
        << e.message();
    // The error is in the events too, and no later checkpoint was written.
    auto latest = latest_checkpoint(out + "/checkpoints");
    ASSERT_TRUE(latest);
    EXPECT_EQ(latest->step, 1);
    bool error_event = false;
    for (const auto& ev : read_events(out + "/events.jsonl"))
        error_event |= ev.value("type", "") == "error" && ev.value("step", 0) == 2;
    EXPECT_TRUE(error_event);
}

}  // namespace
}  // namespace llmtune::train
