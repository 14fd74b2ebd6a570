// llmtune bench: benchmark programs; each prints one JSON object on stdout.
#include <unistd.h>

#include <cstdio>

#include "bench/api_bench.h"
#include "bench/data_bench.h"
#include "bench/decode_bench.h"
#include "bench/device_bench.h"
#include "bench/estimate_bench.h"
#include "bench/tokenize_bench.h"
#include "bench/train_bench.h"
#include "cli/cli_common.h"
#include "common/atomic_file.h"
#include "common/error.h"
#include "model/loader.h"
#include "train/hardware_profile.h"

namespace llmtune::cli {

namespace {

std::string self_executable() {
    char exe[4096];
    const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) throw_io("cannot find this executable (/proc/self/exe)");
    exe[n] = 0;
    return exe;
}

// bench device and bench estimate: the estimator's hardware profile and its accuracy.
void register_estimator_benches(CLI::App* bench) {
    struct DeviceArgs {
        std::string data_dir;
        int threads = 2;
    };
    auto dv = std::make_shared<DeviceArgs>();
    auto* device = bench->add_subcommand(
        "device",
        "Measure this machine for the estimator (GEMM FLOP/s in f32 and bf16 at --threads, read "
        "bandwidth, RAM, the process's own RSS) and store it as <data-dir>/hardware/local.json");
    device->add_option("--data-dir", dv->data_dir,
                       "data dir (default: $LLMTUNE_DATA_DIR, else ./llmtune-data)");
    device->add_option("--threads", dv->threads, "CPU threads (0 = one per core)")
        ->capture_default_str();
    device->callback([dv] {
        set_threads(dv->threads);
        const std::string dir = train::resolve_data_dir(dv->data_dir);
        const train::HardwareProfile p = bench::measure_device();
        train::save_local_profile(dir, p);
        ordered_json out = p.to_json();
        out["bench"] = "device";
        out["saved_to"] = train::local_profile_path(dir);
        std::printf("%s\n", out.dump(2).c_str());
    });

    struct EstimateArgs {
        bench::EstimateBenchOptions o;
        std::string fit_out;
        std::string fit_in;
    };
    auto es = std::make_shared<EstimateArgs>();
    auto* est = bench->add_subcommand(
        "estimate",
        "The estimator against real runs: each configuration trained by `llmtune train` in a "
        "child process; predicted vs actual wall time and peak RSS, one JSON line each");
    est->add_flag("--calibrate", es->o.calibrate,
                  "run the calibration set (other shapes) instead of the evaluation set");
    est->add_option("--only", es->o.only, "run only these configuration names");
    est->add_option("--record", es->o.record,
                    "append each run's measurement to this JSONL file (for --fit)");
    est->add_option("--fit-file", es->o.fit_file,
                    "predict with this step-time fit JSON instead of the built-in one");
    est->add_option("--fit", es->fit_in,
                    "no runs: fit the step-time model to this measurements file and print it");
    est->add_option("--fit-out", es->fit_out, "with --fit: also write the fit to this file");
    est->add_option("--data-dir", es->o.data_dir,
                    "data dir of the local profile (default: $LLMTUNE_DATA_DIR, else "
                    "./llmtune-data); measured first when missing");
    est->add_option("--threads", es->o.threads, "CPU threads of every run")->capture_default_str();
    est->callback([es] {
        if (!es->fit_in.empty()) {
            const train::StepTimeFit fit = train::fit_from_measurements(es->fit_in);
            const std::string text = fit.to_json().dump(2) + "\n";
            if (!es->fit_out.empty()) write_file_atomic(es->fit_out, text);
            std::printf("%s", text.c_str());
            return;
        }
        if (!es->fit_out.empty()) usage_error("--fit-out needs --fit");
        set_threads(es->o.threads);
        bench::run_estimate_bench(es->o, self_executable());
    });
}

// bench api: the HTTP API under wrk's load while a training job runs (bench/api_bench.h).
void register_api_bench(CLI::App* bench) {
    auto o = std::make_shared<bench::ApiBenchOptions>();
    auto* api = bench->add_subcommand(
        "api",
        "GET of a job and of the job list under load (wrk, keep-alive connections) against a "
        "server this command starts on a temporary data dir, while a training job runs: req/s, "
        "p50/p99 latency, errors; target p99 < 20 ms with zero errors");
    api->add_option("--connections", o->connections, "wrk connections")->capture_default_str();
    api->add_option("--duration", o->duration_s, "seconds per endpoint")->capture_default_str();
    api->add_option("--wrk-threads", o->wrk_threads, "wrk threads")->capture_default_str();
    api->add_option("--jobs", o->jobs, "jobs created (the first trains; the list shows them)")
        ->capture_default_str();
    api->add_option("--http-threads", o->http_threads,
                    "the server's --http-threads (0 = its default)")
        ->capture_default_str();
    api->add_option("--worker-threads", o->worker_threads,
                    "torch threads of the training worker")
        ->capture_default_str();
    api->add_option("--log-level", o->log_level, "the server's --log-level")->capture_default_str();
    api->add_option("--tokenizer", o->tokenizer,
                    "tokenizer dir of the tiny model (default: the npm llama2 tokenizer)");
    api->add_option("--wrk", o->wrk, "the wrk executable")->capture_default_str();
    api->add_flag("--keep", o->keep, "keep the temporary data dir (its path is printed)");
    api->callback([o] {
        std::printf("%s\n", bench::run_api_bench(*o, self_executable()).dump(2).c_str());
    });
}

}  // namespace

void register_bench(CLI::App& app) {
    auto* bench = app.add_subcommand("bench",
                                     "Benchmarks; each prints one JSON object with the figure, "
                                     "a reference measured in the same run, and their ratio");
    bench->require_subcommand(1);

    struct DecodeArgs {
        bench::DecodeBenchOptions o;
        std::vector<std::string> dtypes{"f32", "bf16"};
        int threads = 2;
    };
    auto a = std::make_shared<DecodeArgs>();
    auto* decode = bench->add_subcommand("decode",
                                         "Prefill and decode tokens/s against the memory-bandwidth "
                                         "roofline (weight bytes / measured read bandwidth)");
    decode->add_option("--preset", a->o.preset, "model init preset, random weights in memory")
        ->capture_default_str();
    decode->add_option("--model", a->o.model_dir,
                       "benchmark this model directory instead of a preset");
    decode->add_option("--dtype", a->dtypes, "dtypes to run, e.g. --dtype f32 bf16")
        ->capture_default_str();
    decode->add_option("--prompt-tokens", a->o.prompt_tokens, "prefill length")
        ->capture_default_str();
    decode->add_option("--decode-tokens", a->o.decode_tokens, "tokens to decode")
        ->capture_default_str();
    decode->add_option("--repeats", a->o.repeats, "runs per dtype; the best is reported")
        ->capture_default_str();
    decode->add_option("--threads", a->threads, "CPU threads (0 = one per core)")
        ->capture_default_str();
    decode->callback([a] {
        set_threads(a->threads);
        if (a->o.repeats < 1) throw_invalid("--repeats must be >= 1");
        a->o.dtypes.clear();
        for (const auto& d : a->dtypes)
            a->o.dtypes.push_back(model::parse_dtype(d));
        std::printf("%s\n", bench::run_decode_bench(a->o).dump(2).c_str());
    });

    auto t = std::make_shared<bench::TokenizeBenchOptions>();
    auto* tok =
        bench->add_subcommand("tokenize",
                              "Encode MB/s of the tokenizer beside @lenml/tokenizers (a port of "
                              "Hugging Face tokenizers), same corpus, same run, one thread each");
    tok->add_option("--tokenizer", t->tokenizer,
                    "tokenizer directory (default: the npm Qwen3 tokenizer)");
    tok->add_option("--mb", t->megabytes, "corpus size in MB (mixed English, code, multilingual)")
        ->capture_default_str();
    tok->add_option("--reference-script", t->reference_script,
                    "the Node reference (default: tests/reference/tokenize_reference.mjs)");
    tok->add_option("--repeats", t->repeats, "warm runs; the best is reported")
        ->capture_default_str();
    tok->callback([t] {
        if (t->repeats < 1) throw_invalid("--repeats must be >= 1");
        std::printf("%s\n", bench::run_tokenize_bench(*t).dump(2).c_str());
    });

    auto d = std::make_shared<bench::DataBenchOptions>();
    auto* data = bench->add_subcommand(
        "data",
        "Dataset validation+conversion MB/s on chat JSONL (one core), beside the I/O floor "
        "(reading the lines) and a Python json validator, same file, same run");
    data->add_option("--mb", d->megabytes, "size of the generated chat JSONL in MB")
        ->capture_default_str();
    data->add_option("--token-mb", d->token_megabytes,
                     "MB converted with token statistics (tokenizer + chat template)")
        ->capture_default_str();
    data->add_option("--tokenizer", d->tokenizer,
                     "model directory for the tokenized run (default: the npm Qwen3 tokenizer)");
    data->add_option("--python", d->python, "the Python interpreter of the reference validator")
        ->capture_default_str();
    data->add_option("--repeats", d->repeats, "runs of each figure; the best is reported")
        ->capture_default_str();
    data->callback([d] { std::printf("%s\n", bench::run_data_bench(*d).dump(2).c_str()); });

    struct TrainArgs {
        bench::TrainBenchOptions o;
        std::string config;  // set: run this one configuration in this process
    };
    auto tr = std::make_shared<TrainArgs>();
    auto* train = bench->add_subcommand(
        "train",
        "Training-step tokens/s and model FLOP utilisation (against GEMM FLOP/s measured in the "
        "same run, same dtype and threads) and peak RSS, one JSON line per configuration, each "
        "run in a fresh child process");
    train->add_option("--configs", tr->o.configs,
                      "configurations: lora-f32 lora-bf16 full-f32 full-bf16")
        ->capture_default_str();
    train->add_option("--config", tr->config,
                      "run only this configuration, in this process (what each child runs)");
    train->add_option("--lora-preset", tr->o.lora_preset, "model preset for the LoRA runs")
        ->capture_default_str();
    train->add_option("--full-preset", tr->o.full_preset,
                      "model preset for the full fine-tuning runs")
        ->capture_default_str();
    train->add_option("--vocab-size", tr->o.vocab_size, "vocabulary of the generic presets")
        ->capture_default_str();
    train->add_option("--lora-r", tr->o.lora_r, "LoRA rank (all linear layers, alpha = 2r)")
        ->capture_default_str();
    train->add_option("--batch", tr->o.batch, "rows per step")->capture_default_str();
    train->add_option("--seq-len", tr->o.seq_len, "positions per row")->capture_default_str();
    train->add_option("--steps", tr->o.steps, "timed steps after one warm-up step (mean)")
        ->capture_default_str();
    train->add_flag("--gradient-checkpointing", tr->o.gradient_checkpointing,
                    "recompute each decoder layer in backward");
    train->add_option("--threads", tr->o.threads, "CPU threads (0 = one per core)")
        ->capture_default_str();
    train->add_option("--seed", tr->o.seed, "seed of the random weights and tokens")
        ->capture_default_str();
    train->add_option("--ranks", tr->o.ranks,
                      "also run each configuration data-parallel as these world sizes, e.g. "
                      "1,2 (one thread per rank, Gloo on loopback; reports scaling efficiency "
                      "and communication share)")
        ->delimiter(',');
    train->add_option("--profile", tr->o.profile,
                      "with --config: write a chrome trace of the last timed step to this file");
    register_estimator_benches(bench);
    register_api_bench(bench);

    train->callback([tr] {
        set_threads(tr->o.threads);
        if (!tr->config.empty()) {
            std::printf("%s\n", bench::run_train_bench_config(tr->o, tr->config).dump().c_str());
            return;
        }
        char exe[4096];
        const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n <= 0) throw_io("cannot find this executable (/proc/self/exe)");
        exe[n] = 0;
        bool failed = false;
        for (const auto& line : bench::run_train_bench(tr->o, exe)) {
            std::printf("%s\n", line.dump().c_str());
            std::fflush(stdout);
            failed = failed || line.contains("error");
        }
        if (failed)
            throw Error(ErrorKind::io, "a bench train configuration failed (see its line)",
                        "lower --batch or --seq-len, or add --gradient-checkpointing");
    });
}

}  // namespace llmtune::cli
