// llmtune sagemaker: the SageMaker training-container entry point (`sagemaker train`, also what
// a bare `llmtune train` runs inside a training container) and the metric definitions that
// match its log lines. See docs/sagemaker.md.
//
// Signals: SIGTERM (StopTrainingJob, a spot reclaim; SageMaker waits up to 120 s before
// SIGKILL) or SIGINT sets a flag the trainer reads between steps; it writes a checkpoint to
// /opt/ml/checkpoints and exits with code 3, and the next start of the job resumes from it.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>

#include "cli/cli_common.h"
#include "common/error.h"
#include "sagemaker/container_layout.h"
#include "sagemaker/container_train.h"
#include "sagemaker/metric_lines.h"

namespace llmtune::cli {

namespace {

std::atomic<bool> g_sm_stop{false};

extern "C" void on_sagemaker_stop(int) {
    g_sm_stop.store(true);
    const char msg[] = "\nllmtune: stop requested: checkpointing after the current step\n";
    ssize_t ignored = ::write(2, msg, sizeof msg - 1);  // async-signal-safe
    (void)ignored;
}

}  // namespace

bool is_sagemaker_bare_train(int argc, char** argv) {
    return argc == 2 && std::strcmp(argv[1], "train") == 0 &&
           sagemaker::in_training_container(sagemaker::container_layout());
}

void register_sagemaker(CLI::App& app) {
    auto* sm = app.add_subcommand("sagemaker", "Run as a SageMaker training container (docs/sagemaker.md)");
    sm->require_subcommand(1);

    struct Args {
        std::string root;
        int threads = -1;
    };
    auto args = std::make_shared<Args>();
    auto* train = sm->add_subcommand(
        "train",
        "Train as SageMaker's container contract: read /opt/ml/input (hyperparameters, channels "
        "train, validation, model), write /opt/ml/model, checkpoint to /opt/ml/checkpoints "
        "(resumed when present), and on failure write /opt/ml/output/failure.\n"
        "`llmtune train` without arguments does the same when /opt/ml/input/config exists.");
    train->add_option("--root", args->root,
                      std::string("the /opt/ml tree (default: $") + sagemaker::kRootEnvVariable +
                          ", else /opt/ml)");
    train->add_option("--threads", args->threads, "CPU threads, overriding the hyperparameters");
    train->callback([args] {
        const auto layout = sagemaker::container_layout(args->root);
        struct sigaction sa {};
        sa.sa_handler = on_sagemaker_stop;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESETHAND;
        sigaction(SIGINT, &sa, nullptr);
        sigaction(SIGTERM, &sa, nullptr);
        sagemaker::ContainerRunOptions options;
        options.stop = &g_sm_stop;
        options.threads = args->threads;
        if (options.threads >= 0) set_threads(options.threads);
        std::fprintf(stderr, "llmtune: SageMaker training container, root %s\n",
                     layout.root.c_str());
        const auto r = sagemaker::run_container_training(layout, options);
        std::printf("trained %lld/%lld steps (%s)%s\n", static_cast<long long>(r.steps),
                    static_cast<long long>(r.total_steps), r.stop_reason.c_str(),
                    r.resumed ? (" resumed from step " + std::to_string(r.resumed_from_step)).c_str()
                              : "");
        std::printf("output %s\n", layout.model_dir().c_str());
    });

    auto* defs = sm->add_subcommand(
        "metric-definitions",
        "Print the MetricDefinitions (JSON) whose regexes match the container's metric lines");
    defs->callback([] {
        ordered_json out = ordered_json::array();
        for (const auto& d : sagemaker::metric_definitions())
            out.push_back({{"Name", d.name}, {"Regex", d.regex}});
        std::printf("%s\n", out.dump(2).c_str());
    });
}

}  // namespace llmtune::cli
