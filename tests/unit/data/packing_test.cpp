// Packing plans: every example exactly once, rows within max_seq_len, windows never mixed,
// the same plan for the same input, and the two strategies on small hand-checked cases.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "common/error.h"
#include "data/packing.h"

namespace llmtune::data {
namespace {

std::vector<int64_t> random_lengths(size_t n, int64_t max_len, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int64_t> d(1, max_len);
    std::vector<int64_t> out(n);
    for (auto& x : out)
        x = d(rng);
    return out;
}

void expect_valid_plan(const std::vector<std::vector<int64_t>>& rows,
                       const std::vector<int64_t>& lengths, int64_t cap) {
    std::set<int64_t> seen;
    for (const auto& row : rows) {
        ASSERT_FALSE(row.empty());
        int64_t sum = 0;
        for (size_t k = 0; k < row.size(); ++k) {
            if (k > 0) EXPECT_LT(row[k - 1], row[k]);
            EXPECT_TRUE(seen.insert(row[k]).second) << "example " << row[k] << " placed twice";
            sum += lengths.at(static_cast<size_t>(row[k]));
        }
        EXPECT_LE(sum, cap);
    }
    EXPECT_EQ(seen.size(), lengths.size());
}

TEST(Packing, HandCheckedCases) {
    const std::vector<int64_t> lengths{6, 5, 4, 3, 2};
    PackingOptions o;
    o.max_seq_len = 10;
    o.strategy = PackingStrategy::greedy;
    EXPECT_EQ(plan_packing(lengths, o), (std::vector<std::vector<int64_t>>{{0}, {1, 2}, {3, 4}}));
    o.strategy = PackingStrategy::first_fit_decreasing;
    // 6 -> row 0; 5 -> row 1; 4 -> row 0 (full); 3 -> row 1; 2 -> row 1 (full).
    EXPECT_EQ(plan_packing(lengths, o), (std::vector<std::vector<int64_t>>{{0, 2}, {1, 3, 4}}));
    EXPECT_DOUBLE_EQ(packing_efficiency(plan_packing(lengths, o), lengths, 10), 1.0);
    o.window = 2;  // windows {6,5} {4,3} {2}: no row mixes them
    EXPECT_EQ(plan_packing(lengths, o),
              (std::vector<std::vector<int64_t>>{{0}, {1}, {2, 3}, {4}}));
}

TEST(Packing, RandomPlansAreValidDeterministicAndWindowed) {
    for (uint32_t seed = 1; seed <= 5; ++seed) {
        auto lengths = random_lengths(3000, 512, seed);
        for (auto strategy : {PackingStrategy::greedy, PackingStrategy::first_fit_decreasing}) {
            PackingOptions o;
            o.max_seq_len = 1024;
            o.strategy = strategy;
            o.window = 250;
            auto rows = plan_packing(lengths, o);
            expect_valid_plan(rows, lengths, o.max_seq_len);
            EXPECT_EQ(rows, plan_packing(lengths, o));
            if (strategy == PackingStrategy::first_fit_decreasing) {
                int64_t last_window = 0;
                for (const auto& row : rows) {
                    int64_t w = row.front() / o.window;
                    EXPECT_EQ(w, row.back() / o.window) << "a row mixes windows";
                    EXPECT_GE(w, last_window) << "rows out of window order";
                    last_window = w;
                }
            }
        }
        PackingOptions g, f;
        g.max_seq_len = f.max_seq_len = 1024;
        g.strategy = PackingStrategy::greedy;
        EXPECT_GT(packing_efficiency(plan_packing(lengths, f), lengths, 1024),
                  packing_efficiency(plan_packing(lengths, g), lengths, 1024));
    }
}

TEST(Packing, RejectsLengthsOutsideTheRow) {
    PackingOptions o;
    o.max_seq_len = 8;
    try {
        plan_packing({3, 9, 2}, o);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
        EXPECT_NE(std::string(e.message()).find("example 1 has 9 tokens"), std::string::npos)
            << e.message();
    }
    EXPECT_THROW(plan_packing({3, 0}, o), Error);
    o.window = 0;
    EXPECT_THROW(plan_packing({3}, o), Error);
    o.window = 1;
    EXPECT_TRUE(plan_packing({}, o).empty());
}

}  // namespace
}  // namespace llmtune::data
