// Packing: which examples share a row of max_seq_len tokens. A pure function of the example
// lengths (in the order given) and the options, so a resumed run rebuilds the same rows.
//
// Two strategies:
//   greedy                 next-fit in the given order: examples go into the current row
//                          until the next one does not fit, then a new row starts. Keeps the
//                          order exactly; wastes more padding when lengths vary.
//   first_fit_decreasing   (default) the examples are cut into consecutive windows of `window`
//                          examples; inside a window they are taken longest first (ties by
//                          position) and each goes into the first row of that window with room,
//                          or a new row. Rows never mix windows, so the order of the data (a
//                          shuffle, an epoch boundary) is kept at window granularity, and a row
//                          lists its examples in their original order.
// Rows come out in the order they were opened. Training consumes them in that order.
#pragma once

#include <cstdint>
#include <vector>

namespace llmtune::data {

enum class PackingStrategy { greedy, first_fit_decreasing };

struct PackingOptions {
    int64_t max_seq_len = 2048;  // tokens per row; every length must be in [1, max_seq_len]
    PackingStrategy strategy = PackingStrategy::first_fit_decreasing;
    int64_t window = 1000;  // examples per first-fit-decreasing window, >= 1
};

// Each row: indices into `lengths`, ascending, whose lengths sum to at most max_seq_len.
// Every index appears in exactly one row. invalid_input names the first example whose length
// is 0 or above max_seq_len (truncate or drop it first), or a bad option.
std::vector<std::vector<int64_t>> plan_packing(const std::vector<int64_t>& lengths,
                                               const PackingOptions& options);

// Real tokens over row capacity (rows * max_seq_len), in [0, 1]; 0 for no rows.
double packing_efficiency(const std::vector<std::vector<int64_t>>& rows,
                          const std::vector<int64_t>& lengths, int64_t max_seq_len);

}  // namespace llmtune::data
