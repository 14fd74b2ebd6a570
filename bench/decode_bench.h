// llmtune bench decode: prefill and decode throughput against the memory-bandwidth roofline.
//
// Decoding one token reads every weight once, so tokens/s can be at most
// read_bandwidth / weight_bytes. The benchmark measures that bandwidth in the same run and
// reports decode speed as a fraction of it.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "common/json_file.h"

namespace llmtune::bench {

struct DecodeBenchOptions {
    std::string preset = "qwen2.5-0.5b";  // a model init preset, random weights in memory
    std::string model_dir;                // or a model directory (overrides preset)
    std::vector<torch::Dtype> dtypes{torch::kFloat32, torch::kBFloat16};
    int64_t prompt_tokens = 512;
    int64_t decode_tokens = 64;
    int repeats = 3;  // best of
    uint64_t seed = 0;
};

ordered_json run_decode_bench(const DecodeBenchOptions& options);

}  // namespace llmtune::bench
