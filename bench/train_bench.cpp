#include "bench/train_bench.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>

#include <torch/csrc/autograd/profiler_legacy.h>

#include "common/error.h"
#include "dist/bucketed_sync.h"
#include "dist/launcher.h"
#include "dist/process_group.h"
#include "dist/rank_env.h"
#include "model/lora.h"
#include "model/model_init.h"
#include "train/adamw.h"
#include "train/batch.h"
#include "train/gradient_sync.h"
#include "train/loss.h"
#include "train/lr_schedule.h"
#include "train/train_step.h"

namespace llmtune::bench {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// A field of /proc/self/status in bytes ("VmHWM", "VmRSS"); 0 if absent.
double proc_status_bytes(const std::string& field) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1)) * 1024;
    return 0;
}

struct ConfigSpec {
    bool lora = false;
    torch::Dtype dtype = torch::kFloat32;
};

ConfigSpec parse_config(const std::string& name) {
    if (name == "lora-f32") return {true, torch::kFloat32};
    if (name == "lora-bf16") return {true, torch::kBFloat16};
    if (name == "full-f32") return {false, torch::kFloat32};
    if (name == "full-bf16") return {false, torch::kBFloat16};
    throw_invalid("unknown bench train configuration '" + name + "'",
                  "choose from lora-f32, lora-bf16, full-f32, full-bf16");
}

// GEMM FLOP/s on the model's MLP up-projection shape, (B*T, H) x (H -> I), as the decoder
// calls it (torch::linear), in `dtype` with the current threads. Best of several runs.
double measure_gemm_flops(int64_t rows, int64_t in, int64_t out, torch::Dtype dtype) {
    torch::NoGradGuard no_grad;
    auto x = torch::randn({rows, in}).to(dtype);
    auto w = torch::randn({out, in}).to(dtype);
    torch::Tensor y = torch::linear(x, w);  // warm-up (allocations, packing paths)
    double best = 1e30;
    for (int i = 0; i < 5; ++i) {
        const auto t0 = Clock::now();
        y = torch::linear(x, w);
        best = std::min(best, seconds_since(t0));
    }
    return 2.0 * static_cast<double>(rows) * static_cast<double>(in) *
           static_cast<double>(out) / best;
}

// Random token ids, every position but the last a target (unpacked rows, plain causal mask).
train::Batch random_batch(int64_t b, int64_t t, int64_t vocab, uint64_t seed) {
    auto gen = at::detail::createCPUGenerator(seed);
    auto ids = torch::randint(0, vocab, {b, t + 1}, gen, torch::kInt64);
    train::Batch batch;
    batch.input_ids = ids.narrow(1, 0, t).contiguous();                // (B, T)
    batch.targets = ids.narrow(1, 1, t).contiguous();                  // (B, T)
    batch.targets.select(1, t - 1).fill_(-100);
    batch.position_ids = torch::arange(t).unsqueeze(0).expand({b, t}).contiguous();
    batch.target_tokens = b * (t - 1);
    batch.tokens = b * t;
    return batch;
}

bool is_matmul_weight(const std::string& name, const torch::Tensor& p) {
    return p.dim() == 2 && name != "model.embed_tokens.weight";
}

}  // namespace

ordered_json run_train_bench_config(const TrainBenchOptions& o, const std::string& config) {
    const ConfigSpec spec = parse_config(config);
    if (o.batch < 1 || o.seq_len < 2 || o.steps < 1 || o.lora_r < 1)
        throw_invalid("bench train needs batch >= 1, seq_len >= 2, steps >= 1, r >= 1");
    const std::string preset = spec.lora ? o.lora_preset : o.full_preset;
    auto cfg = model::preset_config(preset, model::Architecture::qwen2, o.vocab_size);
    std::fprintf(stderr, "%s: building %s (%s, random weights)...\n", config.c_str(),
                 preset.c_str(), spec.dtype == torch::kBFloat16 ? "bf16" : "f32");
    model::CausalLM lm(cfg, torch::TensorOptions().dtype(spec.dtype));
    model::init_random_weights(lm, o.seed);
    if (spec.lora) {
        model::LoraConfig lc;
        lc.r = o.lora_r;
        lc.alpha = 2.0 * static_cast<double>(o.lora_r);
        lc.target_modules = {"all-linear"};
        lc.dtype = torch::kFloat32;  // adapters (and so the AdamW state) in f32
        model::apply_lora(lm, lc, o.seed + 1);
    }
    lm->set_gradient_checkpointing(o.gradient_checkpointing);

    // FLOPs per token: every matmul weight x 4 (frozen) or x 6 (trained), plus attention.
    double matmul_flops = 0, trainable = 0;
    for (const auto& p : lm->named_parameters(true)) {
        if (p.value().requires_grad()) trainable += static_cast<double>(p.value().numel());
        if (!is_matmul_weight(p.key(), p.value())) continue;
        matmul_flops +=
            (p.value().requires_grad() ? 6.0 : 4.0) * static_cast<double>(p.value().numel());
    }
    // A tied lm_head is the embedding matrix: a matmul weight, skipped above by its name.
    if (cfg.tie_word_embeddings) {
        const auto& w = lm->lm_head_weight();
        matmul_flops += (w.requires_grad() ? 6.0 : 4.0) * static_cast<double>(w.numel());
    }
    const double attention_flops = 12.0 * static_cast<double>(cfg.num_hidden_layers) *
                                   static_cast<double>(cfg.num_attention_heads) *
                                   static_cast<double>(cfg.head_dim) *
                                   static_cast<double>(o.seq_len);
    const double flops_per_token = matmul_flops + attention_flops;

    model::NamedTensors params;
    for (const auto& p : lm->named_parameters(true))
        if (p.value().requires_grad()) params.emplace_back(p.key(), p.value());
    train::AdamWConfig ac;
    ac.lr = 1e-5;  // small, so that random-weight losses stay finite over the steps
    ac.weight_decay = 0.01;
    train::AdamW opt(params, ac);
    const double rss_model = proc_status_bytes("VmRSS");

    // The step is the trainer's own (train/train_step.h): mean loss over the targets,
    // backward, clipping to 1.0, AdamW, at a constant learning rate in one process.
    train::LrScheduleConfig sc;
    sc.kind = train::LrScheduleKind::constant;
    const train::LrSchedule schedule(sc, o.steps + 1);
    // As a data-parallel rank (RANK etc. set by run_train_bench): the c10d all-reduce.
    const std::optional<dist::RankEnv> rank_env = dist::rank_env_from_process();
    std::unique_ptr<dist::ProcessGroup> group;
    std::unique_ptr<dist::DistributedSync> dsync;
    train::LocalSync local_sync;
    if (rank_env) {
        group = dist::ProcessGroup::connect(*rank_env, dist::Backend::gloo,
                                            dist::dist_timeout_from_process());
        dsync = std::make_unique<dist::DistributedSync>(*group, dist::sync_options_from_process());
    }
    train::GradientSync& sync = dsync ? static_cast<train::GradientSync&>(*dsync) : local_sync;
    const int rank = rank_env ? rank_env->rank : 0;
    const int world = rank_env ? rank_env->world_size : 1;
    train::StepRunner runner(lm, opt, schedule, /*max_grad_norm=*/1.0, sync);
    double last_loss = 0;
    auto step = [&](const train::Batch& batch) {
        const train::StepOutput out = runner.step({batch});
        if (!out.finite)
            throw Error(ErrorKind::internal, "bench train: non-finite loss or gradient");
        last_loss = out.loss;
    };
    // GEMM throughput on a shared machine drifts: sampled before and after the steps, the
    // higher sample is the reference, so the utilisation errs low rather than high.
    std::fprintf(stderr, "%s: measuring GEMM FLOP/s...\n", config.c_str());
    std::vector<double> gemm_samples{measure_gemm_flops(o.batch * o.seq_len, cfg.hidden_size,
                                                        cfg.intermediate_size, spec.dtype)};
    std::fprintf(stderr, "%s: warm-up step (batch %lld x %lld)...\n", config.c_str(),
                 static_cast<long long>(o.batch), static_cast<long long>(o.seq_len));
    // Each rank its own rows (seeds apart by rank).
    const uint64_t data_seed = o.seed + 100 + 1000 * static_cast<uint64_t>(rank);
    step(random_batch(o.batch, o.seq_len, cfg.vocab_size, data_seed));
    const double comm_before = dsync ? dsync->stats().exposed_comm_s : 0;
    const int64_t in_backward_before = dsync ? dsync->stats().buckets_launched_in_backward : 0;
    const int64_t launched_before = dsync ? dsync->stats().buckets_launched : 0;
    double total = 0;
    for (int i = 0; i < o.steps; ++i) {
        auto batch = random_batch(o.batch, o.seq_len, cfg.vocab_size, data_seed + 1 + i);
        const auto t0 = Clock::now();
        if (!o.profile.empty() && i == o.steps - 1) {
            torch::autograd::profiler::RecordProfile trace(o.profile);
            step(batch);
        } else {
            step(batch);
        }
        const double s = seconds_since(t0);
        total += s;
        std::fprintf(stderr, "%s: step %d: %.2f s, loss %.4f\n", config.c_str(), i + 1, s,
                     last_loss);
    }
    const double step_seconds = total / o.steps;
    const double tokens_per_s =
        static_cast<double>(o.batch * o.seq_len * world) / step_seconds;  // global
    // One gradient all-reduce on its own (the gradients of one more backward, not stepped):
    // what communication would cost were nothing overlapped.
    double allreduce_alone = 0, comm_per_step = 0, in_backward_share = 0;
    int64_t buckets = 0;
    if (dsync) {
        comm_per_step = (dsync->stats().exposed_comm_s - comm_before) / o.steps;
        const int64_t launched = dsync->stats().buckets_launched - launched_before;
        in_backward_share =
            launched > 0 ? static_cast<double>(dsync->stats().buckets_launched_in_backward -
                                               in_backward_before) /
                               static_cast<double>(launched)
                         : 0.0;
        buckets = static_cast<int64_t>(dsync->bucket_layout().size());
        {
            auto b = random_batch(o.batch, o.seq_len, cfg.vocab_size, data_seed + 999);
            train::causal_lm_loss(lm, b).loss_sum.backward();
        }
        dsync->barrier();
        const auto t0 = Clock::now();
        dsync->all_reduce_gradients({});
        allreduce_alone = seconds_since(t0);
    }

    std::fprintf(stderr, "%s: measuring GEMM FLOP/s...\n", config.c_str());
    gemm_samples.push_back(measure_gemm_flops(o.batch * o.seq_len, cfg.hidden_size,
                                              cfg.intermediate_size, spec.dtype));
    const double gemm = *std::max_element(gemm_samples.begin(), gemm_samples.end());
    const double achieved = tokens_per_s * flops_per_token;

    ordered_json out;
    out["bench"] = "train";
    out["config"] = config;
    out["method"] = spec.lora ? "lora" : "full";
    out["preset"] = preset;
    out["dtype"] = spec.dtype == torch::kBFloat16 ? "bf16" : "f32";
    if (spec.lora) out["lora_r"] = o.lora_r;
    out["gradient_checkpointing"] = o.gradient_checkpointing;
    out["batch"] = o.batch;
    out["seq_len"] = o.seq_len;
    out["threads"] = at::get_num_threads();
    out["trainable_parameters"] = trainable;
    out["flops_per_token"] = flops_per_token;
    out["step_s"] = step_seconds;
    out["tokens_per_s"] = tokens_per_s;
    out["model_flop_s"] = achieved;
    out["gemm_flop_s"] = gemm;
    out["gemm_flop_s_samples"] = gemm_samples;
    out["gemm_shape"] = {o.batch * o.seq_len, cfg.hidden_size, cfg.intermediate_size};
    out["mfu"] = achieved / gemm;
    out["rss_after_model_gb"] = rss_model / 1e9;
    out["peak_rss_gb"] = proc_status_bytes("VmHWM") / 1e9;
    out["last_loss"] = last_loss;
    if (dsync) {
        out["ranks"] = world;
        out["global_batch"] = o.batch * world;
        out["backend"] = "gloo";
        out["comm_s_per_step"] = comm_per_step;
        out["comm_share"] = comm_per_step / step_seconds;
        out["grad_allreduce_alone_s"] = allreduce_alone;
        out["grad_buckets"] = buckets;
        out["buckets_launched_in_backward_share"] = in_backward_share;
    }
    return out;
}

namespace {


// Runs a shell command and returns its standard output and its wait status (pclose's).
std::pair<std::string, int> run_capturing(const std::string& cmd, const std::string& what) {
    FILE* pipe = popen(cmd.c_str(), "r");
    if (!pipe) throw_io("cannot start " + what + ": " + errno_text(errno));
    std::string output;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, pipe)) > 0)
        output.append(buf, n);
    return {output, pclose(pipe)};
}

// `cmd` (one configuration's child command, with --threads 1) as R ranks for each R in o.ranks, one thread
// each; rank 0's line, with the scaling efficiency against the 1-rank run when there is one.
std::vector<ordered_json> run_ranks(const TrainBenchOptions& o, const std::string& cmd,
                                    const std::string& config) {
    std::vector<ordered_json> lines;
    std::optional<double> one_rank_tokens_per_s;
    for (const int world : o.ranks) {
        if (world < 1 || world > 64) throw_invalid("--ranks entries must be in 1..64");
        const std::string port = std::to_string(dist::free_loopback_port());
        std::string sh;
        for (int r = 0; r < world; ++r)
            sh += "RANK=" + std::to_string(r) + " WORLD_SIZE=" + std::to_string(world) +
                  " LOCAL_RANK=" + std::to_string(r) + " LOCAL_WORLD_SIZE=" +
                  std::to_string(world) + " MASTER_ADDR=127.0.0.1 MASTER_PORT=" + port +
                  " OMP_NUM_THREADS=1 " + cmd +
                  (r > 0 ? " >/dev/null" : "") + " & p" + std::to_string(r) + "=$!; ";
        sh += "rc=0; ";
        for (int r = 0; r < world; ++r)
            sh += "wait $p" + std::to_string(r) + " || rc=1; ";
        sh += "exit $rc";
        const std::string full = "sh -c '" + [&] {
            std::string e;  // quote for the single-quoted sh -c argument
            for (char c : sh)
                e += c == '\'' ? std::string("'\\''") : std::string(1, c);
            return e;
        }() + "'";
        const auto [output, status] = run_capturing(full, "the benchmark ranks");
        ordered_json line;
        const auto start = output.find('{');
        if (status == 0 && start != std::string::npos) {
            line = ordered_json::parse(output.substr(start));
            const double tps = line.value("tokens_per_s", 0.0);
            if (world == 1) one_rank_tokens_per_s = tps;
            if (world > 1 && one_rank_tokens_per_s && *one_rank_tokens_per_s > 0)
                line["scaling_efficiency"] = tps / (world * *one_rank_tokens_per_s);
        } else {
            line["bench"] = "train";
            line["config"] = config;
            line["ranks"] = world;
            line["error"] = "a rank failed (exit status " + std::to_string(status) +
                            "); its error is above";
        }
        lines.push_back(line);
    }
    return lines;
}

}  // namespace

std::vector<ordered_json> run_train_bench(const TrainBenchOptions& o,
                                          const std::string& self_exe) {
    std::vector<ordered_json> lines;
    for (const auto& config : o.configs) {
        parse_config(config);  // reject unknown names before starting anything
    }
    for (const auto& config : o.configs) {
        std::string cmd = "'" + self_exe + "' bench train --config " + config +
                          " --lora-preset " + o.lora_preset + " --full-preset " + o.full_preset +
                          " --vocab-size " + std::to_string(o.vocab_size) + " --lora-r " +
                          std::to_string(o.lora_r) + " --batch " + std::to_string(o.batch) +
                          " --seq-len " + std::to_string(o.seq_len) + " --steps " +
                          std::to_string(o.steps) + " --threads " + std::to_string(o.ranks.empty() ? o.threads : 1) +
                          " --seed " + std::to_string(o.seed) +
                          (o.gradient_checkpointing ? " --gradient-checkpointing" : "");
        if (!o.ranks.empty()) {
            for (const auto& line : run_ranks(o, cmd, config))
                lines.push_back(line);
            continue;
        }
        const auto [output, status] = run_capturing(cmd, "the benchmark child process");
        ordered_json line;
        if (status == 0) {
            // The child prints exactly one JSON line.
            const auto start = output.find('{');
            if (start == std::string::npos)
                throw Error(ErrorKind::internal, "bench train child printed no JSON");
            line = ordered_json::parse(output.substr(start));
        } else {
            line["bench"] = "train";
            line["config"] = config;
            line["error"] =
                WIFSIGNALED(status)
                    ? "the child process was killed by signal " +
                          std::to_string(WTERMSIG(status)) + " (9: likely out of memory)"
                    : "the child process exited with status " +
                          std::to_string(WEXITSTATUS(status));
        }
        lines.push_back(line);
    }
    return lines;
}

}  // namespace llmtune::bench
