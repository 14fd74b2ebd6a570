// llmtune bench device: this machine's hardware profile for the estimator (train/
// hardware_profile.h): sustained GEMM FLOP/s in f32 and bf16 at torch's current thread count,
// read bandwidth, RAM, and the RSS of this process before any model (the runtime every
// llmtune process carries: the binary, libtorch and their libraries).
#pragma once

#include "train/hardware_profile.h"

namespace llmtune::bench {

// GEMM FLOP/s of torch::linear on (rows, in) x (in -> out) in `dtype_bytes` (4 = f32,
// 2 = bf16); best of `repeats` timed runs after a warm-up.
double measure_gemm_flops(int64_t rows, int64_t in, int64_t out, int dtype_bytes, int repeats = 5);

// Measures the profile (name "local"); a few seconds.
train::HardwareProfile measure_device();

}  // namespace llmtune::bench
