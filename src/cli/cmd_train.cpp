// llmtune train: run a training job from a YAML or JSON config, with a progress bar.
//
// Signals: the first SIGINT (Ctrl-C) or SIGTERM sets a flag that the trainer reads between
// optimizer steps; it then writes a checkpoint and exits with code 3 ("cancelled"), and
// `--resume` continues exactly from there. The handler is installed with SA_RESETHAND, so a
// second signal takes the default action at once (no checkpoint for the step in progress; the
// previous checkpoint stays valid).
//
// Data parallelism: with torchrun's variables set (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
// MASTER_PORT; see dist/rank_env.h) this process is one rank of a job: it joins the c10d
// process group, trains its slice of every global batch, and only rank 0 prints progress and
// results. Each rank uses OMP_NUM_THREADS threads (1 when unset) unless --threads says
// otherwise. `llmtune launch` sets the variables for the ranks of one node.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>

#include "cli/cli_common.h"
#include "common/error.h"
#include "common/progress.h"
#include "dist/bucketed_sync.h"
#include "dist/process_group.h"
#include "dist/rank_env.h"
#include "train/train_config.h"
#include "train/trainer.h"

namespace llmtune::cli {

namespace {

std::atomic<bool> g_stop{false};  // set by the signal handler, read by the trainer

extern "C" void on_stop_signal(int sig) {
    g_stop.store(true);
    const char msg[] =
        "\nllmtune: stopping after the current step and writing a checkpoint "
        "(signal again to stop at once)\n";
    ssize_t ignored = ::write(2, msg, sizeof msg - 1);  // async-signal-safe
    (void)ignored;
    (void)sig;
}

void install_stop_handlers() {
    static_assert(std::atomic<bool>::is_always_lock_free, "signal-safe flag");
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

std::string fixed(double v, int digits) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

}  // namespace

void register_train(CLI::App& app) {
    struct Args {
        std::string config;
        std::string resume;
        bool resume_flag = false;
        int threads = -1;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand(
        "train",
        "Fine-tune a model (LoRA or full) from a YAML/JSON config; see docs/config.md.\n"
        "Ctrl-C or SIGTERM writes a checkpoint and exits with code 3; --resume continues.");
    cmd->add_option("config", args->config, "the training config (.yaml, .yml or .json)")
        ->required();
    cmd->add_option("--resume", args->resume,
                    "continue from the latest checkpoint in output.dir/checkpoints, or from the "
                    "named one (step-N, N, or a checkpoint directory)")
        ->expected(0, 1);
    cmd->add_option("--threads", args->threads, "CPU threads, overriding the config's threads");
    cmd->callback([args, cmd] {
        train::TrainConfig config = train::load_train_config(args->config);
        const std::optional<dist::RankEnv> rank_env = dist::rank_env_from_process();
        if (rank_env && args->threads < 0)
            config.threads = dist::rank_threads([](const char* n) { return std::getenv(n); });
        if (args->threads >= 0) config.threads = args->threads;
        set_threads(config.threads);
        std::unique_ptr<dist::ProcessGroup> group;
        std::unique_ptr<dist::DistributedSync> sync;
        if (rank_env) {
            // CUDA ranks use NCCL on the GPU of their local rank; CPU ranks use Gloo.
            const bool cuda = config.model.device.rfind("cuda", 0) == 0;
            if (cuda) config.model.device = "cuda:" + std::to_string(rank_env->local_rank);
            group = dist::ProcessGroup::connect(
                *rank_env, cuda ? dist::Backend::nccl : dist::Backend::gloo,
                dist::dist_timeout_from_process());
            sync = std::make_unique<dist::DistributedSync>(*group,
                                                           dist::sync_options_from_process());
        }
        const bool root = !rank_env || rank_env->rank == 0;
        train::ResumeOptions resume;
        resume.resume = cmd->count("--resume") > 0;
        resume.checkpoint = args->resume;

        install_stop_handlers();
        std::unique_ptr<Progress> bar;
        int64_t first_step = 0;
        train::TrainerHooks hooks;
        hooks.stop = &g_stop;
        hooks.sync = sync.get();
        hooks.on_event = [&](const ordered_json& e) {
            const std::string type = e.value("type", "");
            if (type == "start" || type == "resume") {
                first_step = e.value("step", int64_t{0});
                const int64_t total = e.value("total_steps", int64_t{0});
                std::fprintf(
                    stderr, "llmtune: %s %s training: %lld examples, %lld steps%s\n",
                    type == "resume" ? "resuming" : "starting", e.value("method", "").c_str(),
                    static_cast<long long>(e.value("train_examples", int64_t{0})),
                    static_cast<long long>(total),
                    type == "resume" ? (" (from step " + std::to_string(first_step) + ")").c_str()
                                     : "");
                if (e.value("truncated_examples", int64_t{0}) > 0)
                    std::fprintf(
                        stderr,
                        "llmtune: %lld examples truncated to max_seq_len (%lld tokens cut)\n",
                        static_cast<long long>(e.value("truncated_examples", int64_t{0})),
                        static_cast<long long>(e.value("truncated_tokens", int64_t{0})));
                if (e.value("dropped_examples_without_targets", int64_t{0}) > 0)
                    std::fprintf(stderr, "llmtune: %lld examples skipped: no token to train on\n",
                                 static_cast<long long>(
                                     e.value("dropped_examples_without_targets", int64_t{0})));
                bar = std::make_unique<Progress>("training", total - first_step, "steps");
            } else if (type == "train" && bar) {
                bar->set_status("step " + std::to_string(e.value("step", int64_t{0})) + "/" +
                                std::to_string(e.value("total_steps", int64_t{0})) + " loss " +
                                fixed(e.value("train_loss", 0.0), 4) + " " +
                                fixed(e.value("tokens_per_s", 0.0), 0) + " tok/s eta " +
                                fixed(e.value("eta_s", 0.0), 0) + "s");
                bar->advance();
            } else if (type == "eval") {
                if (bar) bar->finish();
                std::fprintf(stderr,
                             "llmtune: step %lld: valid_loss %.4f valid_mean_token_accuracy %.4f\n",
                             static_cast<long long>(e.value("step", int64_t{0})),
                             e.value("valid_loss", 0.0), e.value("valid_mean_token_accuracy", 0.0));
                // A new bar for the remaining steps (the old one was closed by the line above).
                const int64_t step = e.value("step", int64_t{0});
                const int64_t total = e.value("total_steps", int64_t{0});
                if (step < total)
                    bar = std::make_unique<Progress>("training", total - step, "steps");
            } else if (type == "end" || type == "interrupted" || type == "error") {
                if (bar) bar->finish();
            }
        };
        const train::TrainResult r = train::run_training(config, resume, hooks);
        if (!root) return;  // rank 0 reports for the job
        std::printf("trained %lld/%lld steps (%s)\n", static_cast<long long>(r.steps),
                    static_cast<long long>(r.total_steps), r.stop_reason.c_str());
        for (const auto& [k, v] : r.final_metrics.items())
            std::printf("%s %.6f\n", k.c_str(), v.get<double>());
        std::printf("output %s\n", r.output_dir.c_str());
    });
}

}  // namespace llmtune::cli
