// Data-parallel training through the binary, with real processes (`llmtune launch`):
//   - 2 ranks x batch b give the same loss at every step and the same final weights as one
//     process with batch 2b (f32, <= 1e-5 relative), for LoRA and full fine-tuning, including
//     a short last batch where rank 1 has no rows;
//   - a run checkpointed on 2 ranks resumes on 1 rank (batch 2b), and back on 2, and ends
//     where it would have;
//   - SIGTERM to the launcher stops both ranks after the same step with one checkpoint;
//   - a rank killed with SIGKILL, or hung with SIGSTOP, makes the job fail with the rank named,
//     within the timeout; a port in use is a clear error.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "dist_test_util.h"
#include "train/checkpoint.h"
#include "unit/train/trainer_test_util.h"

namespace fs = std::filesystem;

namespace llmtune::train {
namespace {

using namespace testing;
using Clock = std::chrono::steady_clock;

std::string q(const std::string& s) {
    return "'" + s + "'";
}

// One process: `llmtune train` with one thread.
test::RunResult train_one(const std::string& cfg, const std::string& extra = "") {
    return test::run_command("env -u RANK -u WORLD_SIZE " + q(test::llmtune_binary()) +
                             " train " + q(cfg) + " --threads 1 " + extra);
}

test::RunResult launch(int ranks, const std::string& cfg, const std::string& extra = "") {
    return test::run_command(q(test::llmtune_binary()) + " launch --nproc-per-node " +
                             std::to_string(ranks) + " --master-port " +
                             std::to_string(dist::testing::free_port()) +
                             " --timeout 60 -- train " + q(cfg) + " " + extra);
}

std::string write_config(const std::string& path, const TrainConfig& c) {
    test::write_file(path, config_text(c));
    return path;
}

// The relative difference of the trained weights as a whole: ||a - b|| / ||b|| over every
// tensor of the file together. (Per element it is not a useful measure: AdamW's first updates
// are about lr x sign(g), so a component whose gradient is at the rounding level moves by ~lr
// in either direction; the 2-rank run equals one process accumulating the two halves to 1e-6
// per element, see run_both, so what remains is the summation order of the 2b batch.)
double weights_rel_diff(const std::string& file_a, const std::string& file_b) {
    auto a = model::SafetensorsFile::open(file_a);
    auto b = model::SafetensorsFile::open(file_b);
    EXPECT_EQ(a->header().tensors.size(), b->header().tensors.size());
    double diff2 = 0, norm2 = 0;
    for (const auto& info : a->header().tensors) {
        if (!b->contains(info.name)) {
            ADD_FAILURE() << info.name << " missing from " << file_b;
            return 1e9;
        }
        auto ta = a->tensor(info.name).to(torch::kFloat64);
        auto tb = b->tensor(info.name).to(torch::kFloat64);
        diff2 += (ta - tb).pow(2).sum().item<double>();
        norm2 += tb.pow(2).sum().item<double>();
    }
    return std::sqrt(diff2 / std::max(norm2, 1e-300));
}

void expect_same(const std::string& a, const std::string& b, const std::string& weights,
                 int64_t steps) {
    auto la = losses_by_step(a + "/events.jsonl");
    auto lb = losses_by_step(b + "/events.jsonl");
    ASSERT_EQ(la.size(), static_cast<size_t>(steps));
    ASSERT_EQ(lb.size(), static_cast<size_t>(steps));
    for (int64_t s = 1; s <= steps; ++s)
        EXPECT_LE(std::abs(la[s] - lb[s]), 1e-5 * std::abs(la[s])) << "step " << s;
    EXPECT_LE(weights_rel_diff(a + "/" + weights, b + "/" + weights), 1e-5);
}

struct Fixture {
    test::TempDir d;
    TrainConfig base;
    explicit Fixture(int examples) {
        make_tiny_model(d.file("m"), 1.0, 2);
        test::write_file(d.file("train.jsonl"), chat_data(examples));
        base = fast_config(d.file("m"), d.file("train.jsonl"), "");
        base.threads = 1;
    }
    // One process with batch 2b, and 2 ranks with batch b, into "one" and "two"; and one
    // process accumulating 2 micro-batches of b per global batch into "acc" (the same float
    // operations as 2 ranks: each half's gradient, then their sum).
    void run_both(TrainConfig c, int64_t b) {
        TrainConfig acc = c;
        acc.output.dir = d.file("acc");
        acc.training.batch_size = b;
        acc.training.gradient_accumulation_steps = 2 * c.training.gradient_accumulation_steps;
        auto r0 = train_one(write_config(d.file("acc.json"), acc));
        ASSERT_EQ(r0.exit_code, 0) << r0.err;
        c.output.dir = d.file("one");
        c.training.batch_size = 2 * b;
        auto r1 = train_one(write_config(d.file("one.json"), c));
        ASSERT_EQ(r1.exit_code, 0) << r1.err;
        c.output.dir = d.file("two");
        c.training.batch_size = b;
        auto r2 = launch(2, write_config(d.file("two.json"), c));
        ASSERT_EQ(r2.exit_code, 0) << r2.err;
        EXPECT_NE(r2.out.find("trained " + std::to_string(c.training.max_steps)),
                  std::string::npos)
            << r2.out;  // rank 0 alone prints the result
        EXPECT_EQ(r2.out.find("trained", r2.out.find("trained") + 1), std::string::npos)
            << r2.out;
    }
};

TEST(DistTrain, LoraTwoRanksMatchOneProcessWithDoubleBatch) {
    Fixture f(9);  // global batches of 4: 4, 4, 1 -> rank 1 has no rows in the last one
    TrainConfig c = f.base;
    c.training.max_steps = 6;
    ASSERT_NO_FATAL_FAILURE(f.run_both(c, 2));
    expect_same(f.d.file("one"), f.d.file("two"), "adapter_model.safetensors", 6);
    EXPECT_LE(max_rel_diff(f.d.file("acc/adapter_model.safetensors"),
                           f.d.file("two/adapter_model.safetensors")),
              1e-6);
    auto manifest = read_ordered_json_file(f.d.file("two/manifest.json"));
    EXPECT_EQ(manifest["training"]["world_size"], 2);
}

TEST(DistTrain, FullFineTuningTwoRanksMatchOneProcessWithDoubleBatch) {
    Fixture f(10);
    TrainConfig c = f.base;
    c.training.method = "full";
    c.training.learning_rate = 1e-4;
    c.training.gradient_accumulation_steps = 2;
    c.training.max_steps = 3;
    ASSERT_NO_FATAL_FAILURE(f.run_both(c, 1));
    expect_same(f.d.file("one"), f.d.file("two"), "model.safetensors", 3);
    EXPECT_LE(max_rel_diff(f.d.file("acc/model.safetensors"), f.d.file("two/model.safetensors")),
              1e-6);
}

TEST(DistTrain, CheckpointFromTwoRanksResumesOnOneProcess) {
    Fixture f(10);
    TrainConfig c = f.base;
    c.training.max_steps = 6;
    c.output.save_steps = 2;
    c.output.dir = f.d.file("two");
    c.training.batch_size = 2;
    auto r = launch(2, write_config(f.d.file("two.json"), c));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // Only rank 0 wrote: one events log, each step once.
    EXPECT_EQ(losses_by_step(f.d.file("two/events.jsonl")).size(), 6u);
    fs::copy(f.d.file("two"), f.d.file("resumed"), fs::copy_options::recursive);
    c.output.dir = f.d.file("resumed");
    c.training.batch_size = 4;  // 1 rank x 4 = the 2 x 2 the checkpoint was written with
    auto r1 = train_one(write_config(f.d.file("resumed.json"), c), "--resume step-2");
    ASSERT_EQ(r1.exit_code, 0) << r1.err;
    expect_same(f.d.file("two"), f.d.file("resumed"), "adapter_model.safetensors", 6);
    // And back: the 1-process run's step-4 checkpoint continues on 2 ranks.
    fs::copy(f.d.file("resumed"), f.d.file("again"), fs::copy_options::recursive);
    c.output.dir = f.d.file("again");
    c.training.batch_size = 2;
    auto r2 = launch(2, write_config(f.d.file("again.json"), c), "--resume step-4");
    ASSERT_EQ(r2.exit_code, 0) << r2.err;
    expect_same(f.d.file("two"), f.d.file("again"), "adapter_model.safetensors", 6);
    // A different global batch is refused, naming it.
    c.training.batch_size = 3;
    auto bad = train_one(write_config(f.d.file("bad.json"), c), "--resume step-2");
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_NE(bad.err.find("training.batch_size: 4 -> 3"), std::string::npos) << bad.err;
}

// Starts `llmtune launch` in the background with output into files.
struct Background {
    pid_t pid = -1;
    std::string out, err;
    Background(const std::vector<std::string>& args, const std::string& dir) {
        out = dir + "/launch.out";
        err = dir + "/launch.err";
        pid = ::fork();
        if (pid == 0) {
            int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            ::dup2(o, 1);
            ::dup2(e, 2);
            ::unsetenv("RANK");
            ::unsetenv("WORLD_SIZE");
            std::vector<char*> argv;
            std::vector<std::string> a = args;
            for (auto& s : a)
                argv.push_back(s.data());
            argv.push_back(nullptr);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
    }
    // Waits up to `limit`; returns the wait status, or -1 on timeout (then kills it).
    int wait(std::chrono::seconds limit) {
        const auto end = Clock::now() + limit;
        int status = 0;
        while (Clock::now() < end) {
            if (::waitpid(pid, &status, WNOHANG) == pid) return status;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        return -1;
    }
};

// The pid of the launcher's child whose RANK is `rank`.
pid_t rank_pid(pid_t launcher, int rank) {
    for (const auto& t : fs::directory_iterator("/proc/" + std::to_string(launcher) + "/task")) {
        std::ifstream in(t.path() / "children");
        pid_t child;
        while (in >> child) {
            std::ifstream env("/proc/" + std::to_string(child) + "/environ");
            std::string var;
            while (std::getline(env, var, '\0'))
                if (var == "RANK=" + std::to_string(rank)) return child;
        }
    }
    return -1;
}

// Waits up to 60 s for a run's first step in `events`; whether it came.
bool wait_for_first_step(const std::string& events) {
    const auto start = Clock::now();
    while (losses_by_step(events).empty() && Clock::now() - start < std::chrono::seconds(60))
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return !losses_by_step(events).empty();
}

// Launches a long 2-rank run, waits for its first step, then does `hurt` to rank 1.
void fault_test(int signal, const std::string& timeout_s, const std::string& expect_launcher,
                const std::string& expect_rank0) {
    Fixture f(10);
    TrainConfig c = f.base;
    c.training.max_steps = 100000;
    c.output.dir = f.d.file("out");
    const std::string cfg = write_config(f.d.file("cfg.json"), c);
    Background bg({test::llmtune_binary(), "launch", "--nproc-per-node", "2", "--master-port",
                   std::to_string(dist::testing::free_port()), "--timeout", timeout_s, "--grace",
                   "2", "--", "train", cfg},
                  f.d.path());
    ASSERT_TRUE(wait_for_first_step(f.d.file("out/events.jsonl"))) << test::read_file(bg.err);
    const pid_t victim = rank_pid(bg.pid, 1);
    ASSERT_GT(victim, 0);
    const auto hurt = Clock::now();
    ::kill(victim, signal);
    const int status = bg.wait(std::chrono::seconds(60));
    const double took = std::chrono::duration<double>(Clock::now() - hurt).count();
    const std::string err = test::read_file(bg.err);
    ASSERT_NE(status, -1) << "the launcher hung\n" << err;
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << err;
    EXPECT_NE(err.find(expect_launcher), std::string::npos) << err;
    EXPECT_NE(err.find(expect_rank0), std::string::npos) << err;
    EXPECT_LT(took, std::stod(timeout_s) + 15) << err;
    if (signal == SIGSTOP) ::kill(victim, SIGKILL);  // in case it outlived the launcher
}

TEST(DistTrainFaults, KilledRankStopsTheJobNamingIt) {
    fault_test(SIGKILL, "60", "rank 1 (pid", "rank 0 of 2: ");
    // The launcher names the killed rank and its signal.
}

TEST(DistTrainFaults, HungRankMakesTheOthersFailWithinTheTimeout) {
    fault_test(SIGSTOP, "4", "no answer from the other ranks within 4 s", "rank 0 (pid");
}

TEST(DistTrainFaults, SignalToTheLauncherCheckpointsEveryRankAtTheSameStep) {
    Fixture f(10);
    TrainConfig c = f.base;
    c.training.max_steps = 100000;
    c.output.dir = f.d.file("out");
    const std::string cfg = write_config(f.d.file("cfg.json"), c);
    Background bg({test::llmtune_binary(), "launch", "--nproc-per-node", "2", "--master-port",
                   std::to_string(dist::testing::free_port()), "--timeout", "60", "--", "train",
                   cfg},
                  f.d.path());
    wait_for_first_step(f.d.file("out/events.jsonl"));
    ::kill(bg.pid, SIGTERM);
    const int status = bg.wait(std::chrono::seconds(60));
    const std::string err = test::read_file(bg.err);
    ASSERT_TRUE(WIFEXITED(status)) << err;
    EXPECT_EQ(WEXITSTATUS(status), 3) << err;
    EXPECT_NE(err.find("the ranks were stopped by a forwarded signal"), std::string::npos) << err;
    EXPECT_NE(err.find("rank 0 exited with status 3"), std::string::npos) << err;
    EXPECT_NE(err.find("rank 1 exited with status 3"), std::string::npos) << err;
    // Both ranks stopped after the same step: rank 0's checkpoint is that step, and the log
    // ends with it.
    auto ckpts = list_checkpoints(f.d.file("out/checkpoints"));
    ASSERT_EQ(ckpts.size(), 1u) << err;
    EXPECT_EQ(ckpts[0].step, static_cast<int64_t>(losses_by_step(f.d.file("out/events.jsonl")).size()));
}

TEST(DistTrainFaults, PortInUseIsAClearError) {
    Fixture f(4);
    TrainConfig c = f.base;
    c.output.dir = f.d.file("out");
    const std::string cfg = write_config(f.d.file("cfg.json"), c);
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(fd, 1), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    const auto t0 = Clock::now();
    auto r = test::run_command(q(test::llmtune_binary()) +
                               " launch --nproc-per-node 2 --grace 1 --timeout 30 --master-port " +
                               std::to_string(ntohs(a.sin_port)) + " -- train " + q(cfg));
    ::close(fd);
    EXPECT_EQ(r.exit_code, 3) << r.err;
    EXPECT_NE(r.err.find("the port is already in use"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("rank 0 (pid"), std::string::npos) << r.err;
    EXPECT_LT(Clock::now() - t0, std::chrono::seconds(20));  // not the 30 s timeout
}

}  // namespace
}  // namespace llmtune::train
