// The machine's sustained read bandwidth, measured in the same run as the benchmark that
// compares against it.
#pragma once

#include <cstddef>

namespace llmtune::bench {

// Bytes per second for a streaming sum over a float buffer of `bytes` (far larger than the
// last-level cache), using torch's current thread count. Best of `repeats` passes.
double measure_read_bandwidth(size_t bytes = size_t(1) << 30, int repeats = 5);

}  // namespace llmtune::bench
