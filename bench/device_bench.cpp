#include "bench/device_bench.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>

#include "bench/memory_bandwidth.h"

namespace llmtune::bench {

namespace {

// A field of /proc/self/status or /proc/meminfo in bytes ("VmRSS", "MemTotal"); 0 if absent.
double proc_kb_field(const char* file, const std::string& field) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1)) * 1024;
    return 0;
}

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) {
            const auto colon = line.find(':');
            return colon == std::string::npos ? line : line.substr(colon + 2);
        }
    return "unknown CPU";
}

}  // namespace

double measure_gemm_flops(int64_t rows, int64_t in, int64_t out, int dtype_bytes, int repeats) {
    torch::NoGradGuard no_grad;
    const auto dtype = dtype_bytes == 2 ? torch::kBFloat16 : torch::kFloat32;
    auto x = torch::randn({rows, in}).to(dtype);
    auto w = torch::randn({out, in}).to(dtype);
    torch::Tensor y = torch::linear(x, w);  // warm-up: allocations, packing paths
    double best = 1e30;
    for (int i = 0; i < repeats; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        y = torch::linear(x, w);
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return 2.0 * static_cast<double>(rows) * static_cast<double>(in) * static_cast<double>(out) / best;
}

train::HardwareProfile measure_device() {
    train::HardwareProfile p;
    // Before anything below allocates: what the process itself occupies.
    p.runtime_bytes = proc_kb_field("/proc/self/status", "VmRSS");
    p.name = "local";
    p.kind = "cpu";
    p.provider = "local";
    p.accelerator = cpu_model();
    p.accelerator_count = 1;
    p.host_memory_bytes = proc_kb_field("/proc/meminfo", "MemTotal");
    p.accelerator_memory_bytes = p.host_memory_bytes;
    p.threads = at::get_num_threads();
    // A decoder-sized matmul: 1024 positions through a 1024 -> 4096 projection.
    p.flops_f32 = measure_gemm_flops(1024, 1024, 4096, 4);
    p.flops_bf16 = measure_gemm_flops(1024, 1024, 4096, 2, 3);
    p.memory_bandwidth = measure_read_bandwidth(size_t(1) << 29, 5);
    p.measured = true;
    char date[32];
    const std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    p.measured_at = date;
    return p;
}

}  // namespace llmtune::bench
