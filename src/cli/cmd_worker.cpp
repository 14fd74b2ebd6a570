// llmtune worker --job-dir DIR [--resume]: runs one fine-tuning job for `llmtune serve`'s
// scheduler (src/service/scheduler.h), in its own process.
//
// Reads DIR/train_config.json (written by the service) and trains into its output dir. Every
// trainer event goes to stdout as one JSON line as it happens (the scheduler records them);
// messages go to stderr (DIR/worker.log). Before exiting it writes DIR/worker_result.json:
// {"outcome": "succeeded" | "cancelled" | "failed", "code", "message"}, where code names the
// cause the scheduler reports (invalid_file, invalid_config, nan_loss, oom, io_error,
// internal_error). SIGTERM stops after the current step with a checkpoint (outcome cancelled).
// --resume continues from the newest checkpoint, or starts fresh when there is none yet (a
// worker that died before its first checkpoint).
//
// A job with llmtune.ranks N > 1 runs as N workers under `llmtune launch` (torchrun's
// variables set): each trains its share of the global batch_size, rank 0 alone prints events
// and writes worker_result.json (dist/, docs/distributed.md).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <filesystem>
#include <new>

#include "cli/cli_common.h"
#include "common/error.h"
#include "common/json_file.h"
#include "dist/bucketed_sync.h"
#include "dist/process_group.h"
#include "dist/rank_env.h"
#include "train/train_config.h"
#include "train/trainer.h"

namespace llmtune::cli {

namespace {

std::atomic<bool> g_worker_stop{false};

extern "C" void on_worker_stop(int) { g_worker_stop.store(true); }

bool has_checkpoint(const std::string& output_dir) {
    std::error_code ec;
    const std::string dir = output_dir + "/checkpoints";
    if (!std::filesystem::is_directory(dir, ec)) return false;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec))
        if (e.path().filename().string().rfind("step-", 0) == 0) return true;
    return false;
}

void write_result(const std::string& dir, const std::string& outcome, const std::string& code,
                  const std::string& message) {
    try {
        write_json_file(dir + "/worker_result.json",
                        {{"outcome", outcome}, {"code", code}, {"message", message}});
    } catch (const std::exception& e) {
        std::fprintf(stderr, "llmtune worker: cannot write the result: %s\n", e.what());
    }
}

// The scheduler's error code for a trainer error.
std::string classify(const Error& e) {
    const std::string& m = e.message();
    switch (e.kind()) {
        case ErrorKind::invalid_input:
        case ErrorKind::not_found:
        case ErrorKind::conflict:
            if (m.find("training diverged") != std::string::npos) return "nan_loss";
            if (m.find("config") != std::string::npos) return "invalid_config";
            return "invalid_file";
        case ErrorKind::resource_exhausted:
            return "oom";
        case ErrorKind::io:
            return "io_error";
        case ErrorKind::cancelled:
            return "cancelled";
        default:
            return "internal_error";
    }
}

int run_worker(const std::string& dir, bool resume) {
    struct sigaction sa {};
    sa.sa_handler = on_worker_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    // A server that died closes our stdout: the write fails (EPIPE) instead of killing us, and
    // its SIGTERM (PR_SET_PDEATHSIG) makes the trainer checkpoint and stop.
    ::signal(SIGPIPE, SIG_IGN);
    bool root = true;  // one of the job's data-parallel ranks (llmtune.ranks) reports: rank 0
    std::unique_ptr<dist::ProcessGroup> group;
    std::unique_ptr<dist::DistributedSync> sync;
    try {
        train::TrainConfig config = train::load_train_config(dir + "/train_config.json");
        if (const auto env = dist::rank_env_from_process()) {
            root = env->rank == 0;
            config.threads = dist::rank_threads([](const char* n) { return std::getenv(n); });
            // train_config.json holds the job's global batch; each rank trains an equal share.
            if (config.training.batch_size % env->world_size != 0)
                throw_invalid("batch_size " + std::to_string(config.training.batch_size) +
                                  " is not a multiple of the job's " +
                                  std::to_string(env->world_size) + " ranks",
                              "choose a batch_size that llmtune.ranks divides");
            config.training.batch_size /= env->world_size;
            group = dist::ProcessGroup::connect(*env, dist::Backend::gloo,
                                                dist::dist_timeout_from_process());
            sync = std::make_unique<dist::DistributedSync>(*group,
                                                           dist::sync_options_from_process());
        }
        set_threads(config.threads);
        train::ResumeOptions ro;
        ro.resume = resume && has_checkpoint(config.output.dir);
        if (resume && !ro.resume)
            std::fprintf(stderr, "llmtune worker: no checkpoint yet; starting from step 0\n");
        train::TrainerHooks hooks;
        hooks.stop = &g_worker_stop;
        hooks.sync = sync.get();
        hooks.on_event = [](const ordered_json& e) {
            std::string line = e.dump() + "\n";
            std::fwrite(line.data(), 1, line.size(), stdout);
            std::fflush(stdout);
        };
        train::run_training(config, ro, hooks);
        if (root) write_result(dir, "succeeded", "", "");
        return kOk;
    } catch (const Error& e) {
        std::string code = classify(e);
        std::fprintf(stderr, "llmtune worker: error: %s\n", e.message().c_str());
        if (root) write_result(dir, code == "cancelled" ? "cancelled" : "failed", code, e.message());
        return code == "cancelled" ? kIo : kInvalidInput;
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "llmtune worker: error: out of memory\n");
        if (root) write_result(dir, "failed", "oom", "out of memory");
        return kIo;
    } catch (const std::exception& e) {
        // torch reports allocation failures as c10::Error with this text.
        std::string m = e.what();
        std::string code = m.find("alloc") != std::string::npos &&
                                   m.find("memory") != std::string::npos
                               ? "oom"
                               : "internal_error";
        std::fprintf(stderr, "llmtune worker: error: %s\n", m.c_str());
        if (root) write_result(dir, "failed", code, m.substr(0, 2000));
        return kInternal;
    }
}

}  // namespace

void register_worker(CLI::App& app) {
    auto dir = std::make_shared<std::string>();
    auto resume = std::make_shared<bool>(false);
    auto* cmd = app.add_subcommand(
        "worker",
        "Run one fine-tuning job for `llmtune serve` (started by its scheduler; see "
        "docs/architecture.md). Events go to stdout as JSON lines.");
    cmd->add_option("--job-dir", *dir, "the job directory holding train_config.json")->required();
    cmd->add_flag("--resume", *resume, "continue from the newest checkpoint when there is one");
    cmd->callback([dir, resume] {
        int rc = run_worker(*dir, *resume);
        if (rc != kOk) std::exit(rc);
    });
}

}  // namespace llmtune::cli
