// llmtune estimate: time, memory, cost and a fit verdict for a training config before launch.
// Reads the same config as `llmtune train`, tokenizes the dataset as training would (exact
// row shapes, so padding and packing are counted), and runs the estimator (train/estimator.h).
#include <cstdio>
#include <string>

#include "cli/cli_common.h"
#include "common/error.h"
#include "train/estimate_config.h"
#include "train/estimator.h"
#include "train/hardware_profile.h"
#include "train/train_config.h"

namespace llmtune::cli {

namespace {

std::string gb(double bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f GB", bytes / 1e9);
    return buf;
}

std::string duration(double s) {
    char buf[64];
    if (s < 120)
        std::snprintf(buf, sizeof buf, "%.1f s", s);
    else if (s < 7200)
        std::snprintf(buf, sizeof buf, "%.1f min", s / 60);
    else
        std::snprintf(buf, sizeof buf, "%.1f h", s / 3600);
    return buf;
}

std::string num(double v) {
    char buf[32];
    if (v >= 1e12)
        std::snprintf(buf, sizeof buf, "%.3g T", v / 1e12);
    else if (v >= 1e9)
        std::snprintf(buf, sizeof buf, "%.3g G", v / 1e9);
    else if (v >= 1e6)
        std::snprintf(buf, sizeof buf, "%.3g M", v / 1e6);
    else
        std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
}

void print_text(const train::TrainConfig& config, const train::ConfigDataSummary& d,
                const train::EstimateRequest& r, const train::Estimate& e) {
    std::printf("hardware    %s (%s%s)\n", e.hardware.name.c_str(), e.hardware.accelerator.c_str(),
                e.hardware.accelerator_count > 1
                    ? (" x" + std::to_string(e.hardware.accelerator_count)).c_str()
                    : "");
    std::printf("model       %s, %s parameters, %s trained (%s%s), base %s\n",
                model::architecture_model_type(r.model.arch), num(static_cast<double>(e.total_parameters)).c_str(),
                num(static_cast<double>(e.trainable_parameters)).c_str(),
                r.method.lora ? ("LoRA r=" + std::to_string(r.method.lora_r) + " on " +
                                 std::to_string(r.method.lora_targets.size()) + " projections")
                                    .c_str()
                              : "full",
                r.gradient_checkpointing ? ", gradient checkpointing" : "",
                config.model.dtype.c_str());
    std::printf("data        %lld train examples -> %lld rows%s, %lld tokens per epoch (%lld trained)"
                "; %lld validation rows; %lld examples truncated to %lld tokens\n",
                static_cast<long long>(d.train_examples), static_cast<long long>(d.train_rows),
                config.data.packing ? " (packed)" : "", static_cast<long long>(d.train_tokens),
                static_cast<long long>(d.train_targets), static_cast<long long>(d.valid_rows),
                static_cast<long long>(d.truncated_examples),
                static_cast<long long>(config.data.max_seq_len));
    std::printf("steps       %lld (batch %lld x accumulation %lld); %s positions computed for %s tokens\n",
                static_cast<long long>(e.total_steps), static_cast<long long>(r.plan.batch_size),
                static_cast<long long>(r.plan.gradient_accumulation_steps),
                num(static_cast<double>(e.train_positions)).c_str(),
                num(static_cast<double>(e.train_tokens)).c_str());
    std::printf("FLOPs       %.3g training + %.3g evaluation\n", e.train_flops, e.eval_flops);
    if (e.time_known)
        std::printf("time        %s%s (steps %s, evaluation %s, load/save %s); utilisation %.0f%%\n"
                    "            basis: %s\n",
                    e.time_lower_bound ? "at least " : "", duration(e.total_s).c_str(),
                    duration(e.train_s).c_str(), duration(e.eval_s).c_str(),
                    duration(e.overhead_s).c_str(), e.utilization * 100, e.time_basis.c_str());
    else
        std::printf("time        %s\n", e.time_basis.c_str());
    const auto& m = e.memory;
    std::printf("memory      peak %s at the end of %s%s\n", gb(m.peak).c_str(), m.peak_phase.c_str(),
                e.hardware.kind == "gpu" ? " (per GPU)" : "");
    std::printf("            runtime %s, data %s, weights %s, AdamW %s, gradients %s,\n"
                "            activations %s, loss buffers %s, attention scores %s, step temporaries %s\n",
                gb(m.runtime).c_str(), gb(m.dataset).c_str(), gb(m.weights).c_str(),
                gb(m.optimizer).c_str(), gb(m.gradients).c_str(), gb(m.activations).c_str(),
                gb(m.loss_buffers).c_str(), gb(m.attention_transient).c_str(),
                gb(m.step_transient).c_str());
    if (e.cost_usd)
        std::printf("cost        %s$%.2f at $%.4g/h (%s, read %s)\n",
                    e.time_lower_bound ? "at least " : "", *e.cost_usd,
                    *e.hardware.price_per_hour, e.hardware.price_source.c_str(),
                    e.hardware.price_date.c_str());
    else
        std::printf("cost        %s\n", e.hardware.price_per_hour
                                             ? "unknown (no time estimate)"
                                             : "no price for this hardware in the catalog");
    std::printf("verdict     %s\n", e.verdict.c_str());
    for (const auto& s : e.suggestions)
        std::printf("  fits with %s: peak %s, %s\n", s.change.c_str(), gb(s.peak_bytes).c_str(),
                    duration(s.total_s).c_str());
}

}  // namespace

void register_estimate(CLI::App& app) {
    struct Args {
        std::string config, hardware = "local", catalog, data_dir, fit_file;
        bool json = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = app.add_subcommand(
        "estimate",
        "Estimate a training config before launch: FLOPs, wall time, peak memory, cost, and "
        "whether it fits (with the nearest settings that do when it does not)");
    cmd->add_option("config", a->config, "the training config (.yaml, .yml or .json), as for train")
        ->required();
    cmd->add_option("--hardware", a->hardware,
                    "'local' (measured by `llmtune bench device`) or a catalog name, e.g. "
                    "aws-sagemaker/ml.g6.xlarge or lambda/gpu_1x_a100")
        ->capture_default_str();
    cmd->add_option("--catalog", a->catalog,
                    "a hardware catalog YAML replacing the built-in one (data/hardware_catalog.yaml)");
    cmd->add_option("--data-dir", a->data_dir,
                    "data dir of the local profile (default: $LLMTUNE_DATA_DIR, else ./llmtune-data)");
    cmd->add_option("--fit-file", a->fit_file,
                    "a step-time fit JSON (llmtune bench estimate --fit) instead of the built-in one");
    cmd->add_flag("--json", a->json, "print the estimate as one JSON object");
    cmd->callback([a] {
        const auto catalog = train::load_hardware_catalog(a->catalog);
        const train::HardwareProfile hw =
            train::find_hardware(a->hardware, catalog, train::resolve_data_dir(a->data_dir));
        const train::TrainConfig config = train::load_train_config(a->config);
        train::ConfigDataSummary summary;
        const train::EstimateRequest req = train::estimate_request_from_config(config, &summary);
        const train::StepTimeFit fit =
            a->fit_file.empty()
                ? train::builtin_step_time_fit()
                : train::parse_step_time_fit(read_json_file(a->fit_file), a->fit_file);
        const train::Estimate e = train::estimate_training(req, hw, fit);
        if (a->json) {
            ordered_json j = e.to_json();
            j["data"] = {{"train_examples", summary.train_examples},
                         {"valid_examples", summary.valid_examples},
                         {"train_rows", summary.train_rows},
                         {"valid_rows", summary.valid_rows},
                         {"train_tokens_per_epoch", summary.train_tokens},
                         {"train_targets_per_epoch", summary.train_targets},
                         {"truncated_examples", summary.truncated_examples}};
            std::printf("%s\n", j.dump(2).c_str());
        } else {
            print_text(config, summary, req, e);
        }
    });
}

}  // namespace llmtune::cli
