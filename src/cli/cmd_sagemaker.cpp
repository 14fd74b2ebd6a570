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
#include <ctime>
#include <memory>

#include "cli/cli_common.h"
#include "common/error.h"
#include "sagemaker/container_layout.h"
#include "sagemaker/container_train.h"
#include "sagemaker/metric_lines.h"
#include "service/sagemaker_api.h"
#include "service/sagemaker_requests.h"

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

    // A developer command: one SageMaker API request for a job described in a file, signed
    // and sent as the scheduler's backend sends it (the request test compares it with the AWS
    // SDK's).
    struct RequestArgs {
        std::string operation, job_file;
        int64_t time = 0;
    };
    auto rargs = std::make_shared<RequestArgs>();
    auto* req = sm->add_subcommand(
        "request",
        "Send one SageMaker API request (create, describe or stop) for a job file, as the "
        "server's SageMaker backend does; prints the answer. Credentials from the AWS chain.\n"
        "The job file: {job_name, backend: {role_arn, image_uri, instance_type, instance_count, "
        "region, s3_prefix, max_runtime_s, spot, ..., endpoint}, train_s3_uri, validation_s3_uri, "
        "model_s3_uri, output_s3_uri, checkpoint_s3_uri, train_config, volume_size_gb, tags}");
    req->add_option("operation", rargs->operation, "create | describe | stop")
        ->required()
        ->check(CLI::IsMember({"create", "describe", "stop"}));
    req->add_option("--job", rargs->job_file, "the job file (JSON)")->required();
    req->add_option("--time", rargs->time, "sign as of this Unix time (tests; default: now)");
    req->callback([rargs] {
        const ordered_json j = read_ordered_json_file(rargs->job_file);
        const auto settings = service::parse_sagemaker_settings(j.value("backend", ordered_json::object()));
        const std::string name = j.value("job_name", "");
        if (name.empty()) throw_invalid(rargs->job_file + ": job_name is required");
        service::SageMakerApiConfig cfg;
        cfg.region = settings.region;
        cfg.endpoint = settings.endpoint;
        cfg.credentials = cloud::resolve_aws_credentials();
        cfg.http.retry.max_attempts = 1;
        if (rargs->time > 0) {
            const std::time_t t = static_cast<std::time_t>(rargs->time);
            cfg.clock = [t] { return t; };
        }
        service::SageMakerApi api(cfg);
        ordered_json answer;
        if (rargs->operation == "create") {
            service::TrainingJobInput in;
            in.job_name = name;
            in.settings = settings;
            in.train_s3_uri = j.value("train_s3_uri", "");
            in.validation_s3_uri = j.value("validation_s3_uri", "");
            in.model_s3_uri = j.value("model_s3_uri", "");
            in.output_s3_uri = j.value("output_s3_uri", "");
            in.checkpoint_s3_uri = j.value("checkpoint_s3_uri", "");
            in.hyperparameters =
                service::hyperparameters_from_train_config(j.value("train_config", ordered_json::object()));
            in.volume_size_gb = j.value("volume_size_gb", int64_t{30});
            const ordered_json tags = j.value("tags", ordered_json::object());
            for (const auto& [k, v] : tags.items()) {
                if (!v.is_string()) throw_invalid(rargs->job_file + ": tags." + k + " must be a string");
                in.tags.emplace_back(k, v.get<std::string>());
            }
            answer = api.call("CreateTrainingJob", service::create_training_job_body(in));
        } else if (rargs->operation == "describe") {
            answer = api.call("DescribeTrainingJob", service::describe_training_job_body(name));
        } else {
            answer = api.call("StopTrainingJob", service::stop_training_job_body(name));
        }
        std::printf("%s\n", answer.dump(2).c_str());
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
