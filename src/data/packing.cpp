#include "data/packing.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "common/error.h"

namespace llmtune::data {

namespace {

void check_inputs(const std::vector<int64_t>& lengths, const PackingOptions& o) {
    if (o.max_seq_len <= 0)
        throw_invalid("packing: max_seq_len must be positive, got " + std::to_string(o.max_seq_len));
    if (o.window < 1)
        throw_invalid("packing: the window must hold at least one example, got " +
                      std::to_string(o.window));
    for (size_t i = 0; i < lengths.size(); ++i)
        if (lengths[i] <= 0 || lengths[i] > o.max_seq_len)
            throw_invalid("packing: example " + std::to_string(i) + " has " +
                              std::to_string(lengths[i]) + " tokens, outside [1, " +
                              std::to_string(o.max_seq_len) + "]",
                          "truncate examples to max_seq_len and drop empty ones before packing");
}

std::vector<std::vector<int64_t>> greedy(const std::vector<int64_t>& lengths, int64_t cap) {
    std::vector<std::vector<int64_t>> rows;
    int64_t used = cap;  // forces a new row for the first example
    for (size_t i = 0; i < lengths.size(); ++i) {
        if (used + lengths[i] > cap) {
            rows.emplace_back();
            used = 0;
        }
        rows.back().push_back(static_cast<int64_t>(i));
        used += lengths[i];
    }
    return rows;
}

void first_fit_decreasing(const std::vector<int64_t>& lengths, int64_t cap, size_t begin,
                          size_t end, std::vector<std::vector<int64_t>>& rows) {
    std::vector<int64_t> order(end - begin);
    std::iota(order.begin(), order.end(), static_cast<int64_t>(begin));
    // stable_sort keeps equal lengths in their original order: the plan is a pure function.
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
        return lengths[static_cast<size_t>(a)] > lengths[static_cast<size_t>(b)];
    });
    const size_t first_row = rows.size();
    std::vector<int64_t> free;  // remaining room of this window's rows
    for (int64_t i : order) {
        const int64_t len = lengths[static_cast<size_t>(i)];
        size_t r = 0;
        while (r < free.size() && free[r] < len)
            ++r;
        if (r == free.size()) {
            free.push_back(cap);
            rows.emplace_back();
        }
        free[r] -= len;
        rows[first_row + r].push_back(i);
    }
    for (size_t r = first_row; r < rows.size(); ++r)
        std::sort(rows[r].begin(), rows[r].end());
}

}  // namespace

std::vector<std::vector<int64_t>> plan_packing(const std::vector<int64_t>& lengths,
                                               const PackingOptions& options) {
    check_inputs(lengths, options);
    if (options.strategy == PackingStrategy::greedy) return greedy(lengths, options.max_seq_len);
    std::vector<std::vector<int64_t>> rows;
    const size_t window = static_cast<size_t>(options.window);
    for (size_t begin = 0; begin < lengths.size(); begin += window)
        first_fit_decreasing(lengths, options.max_seq_len, begin,
                             std::min(lengths.size(), begin + window), rows);
    return rows;
}

double packing_efficiency(const std::vector<std::vector<int64_t>>& rows,
                          const std::vector<int64_t>& lengths, int64_t max_seq_len) {
    if (rows.empty() || max_seq_len <= 0) return 0.0;
    int64_t tokens = 0;
    for (const auto& row : rows)
        for (int64_t i : row)
            tokens += lengths.at(static_cast<size_t>(i));
    return static_cast<double>(tokens) /
           (static_cast<double>(rows.size()) * static_cast<double>(max_seq_len));
}

}  // namespace llmtune::data
