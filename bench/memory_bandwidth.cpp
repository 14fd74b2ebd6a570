#include "bench/memory_bandwidth.h"

#include <torch/torch.h>

#include <chrono>

namespace llmtune::bench {

double measure_read_bandwidth(size_t bytes, int repeats) {
    torch::NoGradGuard no_grad;
    auto buf = torch::ones({static_cast<int64_t>(bytes / sizeof(float))}, torch::kFloat32);
    double best = 1e30;
    volatile float sink = 0;
    for (int i = 0; i < repeats + 1; ++i) {  // the first pass warms the pages
        auto t0 = std::chrono::steady_clock::now();
        sink = buf.sum().item<float>();
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (i > 0) best = std::min(best, s);
    }
    (void)sink;
    return static_cast<double>(bytes) / best;
}

}  // namespace llmtune::bench
