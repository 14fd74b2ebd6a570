// Crash safety through the real binary: a run killed with SIGKILL between checkpoints, a run
// stopped with SIGTERM, and a run whose checkpoint write fails for lack of space (RLIMIT_FSIZE
// in the child) all resume to exactly the losses and adapter of an uninterrupted run.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "train/checkpoint.h"
#include "train/metrics_log.h"
#include "trainer_test_util.h"

extern char** environ;

namespace fs = std::filesystem;

namespace llmtune::train {
namespace {

using namespace testing;

// Starts `command` under /bin/sh, which execs it (so the pid is the command's own and
// signals reach it); returns the pid.
pid_t spawn(const std::string& command) {
    pid_t pid = 0;
    const std::string line = "exec " + command;
    const char* argv[] = {"/bin/sh", "-c", line.c_str(), nullptr};
    EXPECT_EQ(posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ), 0);
    return pid;
}

// The highest step of a "train" event in events.jsonl (0 when none yet).
int64_t last_step(const std::string& events) {
    if (!fs::exists(events)) return 0;
    int64_t step = 0;
    for (const auto& e : read_events(events))
        if (e.value("type", "") == "train") step = std::max(step, e.value("step", int64_t{0}));
    return step;
}

// Waits until the run in `out` has logged step >= `step`; false if it exited first.
bool wait_for_step(pid_t pid, const std::string& out, int64_t step) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (std::chrono::steady_clock::now() < deadline) {
        if (last_step(out + "/events.jsonl") >= step) return true;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
}

class TrainerKill : public ::testing::Test {
  protected:
    void SetUp() override {
        make_tiny_model(dir_.file("m"), 1.0, 2);
        test::write_file(dir_.file("train.jsonl"), chat_data(10));
        config_ = fast_config(dir_.file("m"), dir_.file("train.jsonl"), dir_.file("straight"));
        config_.lora.dropout = 0.1;
        config_.training.max_steps = 12;
        config_.output.save_steps = 3;
        config_.threads = 1;
        write_config("straight");
        auto r = test::run_command(train_cmd("straight"));
        ASSERT_EQ(r.exit_code, 0) << r.err;
    }

    void write_config(const std::string& name) {
        TrainConfig c = config_;
        c.output.dir = dir_.file(name);
        test::write_file(dir_.file(name + ".json"), config_text(c));
    }
    std::string train_cmd(const std::string& name, const std::string& extra = "") {
        return "'" + test::llmtune_binary() + "' train '" + dir_.file(name + ".json") + "' " +
               extra;
    }
    void expect_matches_straight(const std::string& name) {
        auto a = losses_by_step(dir_.file("straight/events.jsonl"));
        auto b = losses_by_step(dir_.file(name + "/events.jsonl"));
        ASSERT_EQ(a.size(), 12u);
        ASSERT_EQ(b.size(), 12u);
        for (int64_t s = 1; s <= 12; ++s)
            EXPECT_NEAR(a[s], b[s], 1e-6 * std::abs(a[s])) << name << " step " << s;
        EXPECT_LE(max_rel_diff(dir_.file("straight/adapter_model.safetensors"),
                               dir_.file(name + "/adapter_model.safetensors")),
                  1e-6);
    }

    test::TempDir dir_;
    TrainConfig config_;
};

TEST_F(TrainerKill, SigkillBetweenCheckpointsThenResume) {
    write_config("killed");
    const std::string out = dir_.file("killed");
    pid_t pid = spawn(train_cmd("killed", ">/dev/null 2>&1"));
    ASSERT_TRUE(wait_for_step(pid, out, 4)) << "the run ended before it could be killed";
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));
    EXPECT_FALSE(fs::exists(out + "/manifest.json"));
    auto latest = latest_checkpoint(out + "/checkpoints");
    ASSERT_TRUE(latest);
    EXPECT_GE(latest->step, 3);
    EXPECT_LT(latest->step, 12);
    auto r = test::run_command(train_cmd("killed", "--resume"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    expect_matches_straight("killed");
}

TEST_F(TrainerKill, SigtermWritesACheckpointAndExitsCleanly) {
    write_config("termed");
    const std::string out = dir_.file("termed");
    pid_t pid =
        spawn(train_cmd("termed", ">" + dir_.file("term.out") + " 2>" + dir_.file("term.err")));
    ASSERT_TRUE(wait_for_step(pid, out, 1));
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status)) << "killed by the signal instead of stopping cleanly";
    EXPECT_EQ(WEXITSTATUS(status), 3);
    const std::string err = test::read_file(dir_.file("term.err"));
    EXPECT_NE(err.find("training stopped on request at step"), std::string::npos) << err;
    EXPECT_NE(err.find("--resume"), std::string::npos) << err;
    // The checkpoint is at the step the run stopped at.
    int64_t stopped = -1;
    for (const auto& e : read_events(out + "/events.jsonl"))
        if (e.value("type", "") == "interrupted") stopped = e["step"].get<int64_t>();
    ASSERT_GT(stopped, 0);
    EXPECT_EQ(latest_checkpoint(out + "/checkpoints")->step, stopped);
    auto r = test::run_command(train_cmd("termed", "--resume"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    expect_matches_straight("termed");
}

TEST_F(TrainerKill, DiskFullDuringACheckpointKeepsThePreviousOneValid) {
    write_config("full");
    const std::string out = dir_.file("full");
    // Start from the straight run's step-3 checkpoint (written without a limit).
    fs::create_directories(out + "/checkpoints");
    fs::copy(dir_.file("straight/checkpoints/step-3"), out + "/checkpoints/step-3",
             fs::copy_options::recursive);
    fs::copy(dir_.file("straight/events.jsonl"), out + "/events.jsonl");
    const auto opt_bytes = fs::file_size(out + "/checkpoints/step-3/optimizer.safetensors");
    const auto adapter_bytes =
        fs::file_size(out + "/checkpoints/step-3/adapter/adapter_model.safetensors");
    ASSERT_LT(adapter_bytes + 8192, opt_bytes);
    // Files may grow to the adapter's size but not to the optimizer state's: the step-6
    // checkpoint fails half-way, as on a full disk. SIGXFSZ is ignored so write() fails with
    // EFBIG instead of killing the process.
    const uint64_t limit_kb = (adapter_bytes + 4096) / 1024;
    auto r = test::run_command("ulimit -f " + std::to_string(limit_kb) + "; trap '' XFSZ; " +
                               train_cmd("full", "--resume"));
    EXPECT_EQ(r.exit_code, 3) << r.err;
    EXPECT_NE(r.err.find("cannot write checkpoint"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("File too large"), std::string::npos) << r.err;
    // step-3 is still the latest, complete and loadable; no half-written directory is left.
    auto latest = latest_checkpoint(out + "/checkpoints");
    ASSERT_TRUE(latest);
    EXPECT_EQ(latest->step, 3);
    for (const auto& e : fs::directory_iterator(out + "/checkpoints"))
        EXPECT_EQ(e.path().filename().string().rfind(".tmp-", 0), std::string::npos) << e.path();
    r = test::run_command(train_cmd("full", "--resume"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    expect_matches_straight("full");
}

}  // namespace
}  // namespace llmtune::train
