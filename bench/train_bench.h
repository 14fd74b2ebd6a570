// llmtune bench train: training-step throughput against the machine's GEMM throughput.
//
// A step is the trainer's own optimizer step (train::StepRunner::step, one micro-batch, constant
// learning rate): forward, the summed loss divided by the target count, backward, gradient
// clipping to 1.0 and the AdamW update. Model FLOP utilisation is
//
//   tokens/s x FLOPs per token / GEMM FLOP/s
//
// with FLOPs per token = k x (parameters of every matmul weight, lm_head included) + the
// attention score FLOPs (12 x layers x heads x head_dim x T: QK^T and PV, forward and their two
// input gradients), k = 4 for a frozen base weight (forward + input gradient) and 6 for a
// trained one (+ weight gradient), and GEMM FLOP/s measured in the same process, same dtype and
// threads, on a matmul of the model's own shape (sampled before and after the steps; the higher
// sample counts).
//
// Each configuration runs in a fresh child process (this binary again, with --config), so its
// peak RSS (VmHWM) is its own.
//
// Data parallelism (--ranks 1,2): each configuration also runs as R processes on this machine
// (torchrun's variables set by the parent, one torch thread per rank, Gloo on loopback), each
// rank stepping its own batch of `batch` rows through the trainer's StepRunner with the
// bucketed all-reduce of dist/bucketed_sync.h; the global batch is R x batch (weak scaling).
// Rank 0's line reports the step time, global tokens/s, the time the training thread spent in
// communication (waiting for all-reduces and the step's scalar sums; the buckets launched from
// backward overlap it), the time one gradient all-reduce takes on its own, and, against the
// 1-rank run, the scaling efficiency tokens/s(R) / (R x tokens/s(1)).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/json_file.h"

namespace llmtune::bench {

struct TrainBenchOptions {
    // Configurations: "lora-f32", "lora-bf16" (frozen bf16 base, f32 adapters and AdamW state),
    // "full-f32", "full-bf16".
    std::vector<std::string> configs{"lora-f32", "lora-bf16", "full-f32"};
    std::string lora_preset = "qwen2.5-0.5b";  // model init preset, random weights
    std::string full_preset = "small";
    int64_t vocab_size = 151936;  // for generic presets (small, tiny): Qwen's vocabulary
    int64_t lora_r = 16;          // on all linear layers, alpha = 2r
    int64_t batch = 4;
    int64_t seq_len = 512;
    int steps = 2;  // timed steps after one warm-up step; the mean is reported
    bool gradient_checkpointing = false;
    int threads = 2;
    uint64_t seed = 0;
    std::string profile;  // when set (one configuration): chrome trace of the last timed step
    std::vector<int> ranks;  // data-parallel runs with these world sizes (empty: one process)
};

// Runs one configuration in this process and returns its JSON line.
ordered_json run_train_bench_config(const TrainBenchOptions& options, const std::string& config);

// Runs every configuration, each in a child process started as
// `self_exe bench train --config NAME ...` (the options passed on), and returns their lines.
std::vector<ordered_json> run_train_bench(const TrainBenchOptions& options,
                                          const std::string& self_exe);

}  // namespace llmtune::bench
