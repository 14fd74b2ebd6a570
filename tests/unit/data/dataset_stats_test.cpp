// TokenStats' length histogram, and the report JSON that carries it.
#include <gtest/gtest.h>

#include "data/dataset_stats.h"
#include "data/validation_report.h"

using llmtune::data::LengthBucket;
using llmtune::data::TokenStats;
using llmtune::data::ValidationReport;

TEST(DataStats, HistogramBucketsArePowerOfTwoWideAndCountEveryRecord) {
    TokenStats s;
    for (int i = 1; i <= 100; ++i) s.add(i, i / 2);
    auto h = s.length_histogram();
    // Width 4 would need 26 buckets for 1..100, width 8 needs 13: [0,8) ... [96,104).
    ASSERT_EQ(h.size(), 13u);
    EXPECT_EQ(h.front().lo, 0);
    EXPECT_EQ(h.front().hi, 8);
    EXPECT_EQ(h.front().count, 7);  // 1..7
    for (size_t i = 1; i + 1 < h.size(); ++i) {
        EXPECT_EQ(h[i].lo, h[i - 1].hi);
        EXPECT_EQ(h[i].hi - h[i].lo, 8);
        EXPECT_EQ(h[i].count, 8);
    }
    EXPECT_EQ(h.back().lo, 96);
    EXPECT_EQ(h.back().hi, 104);
    EXPECT_EQ(h.back().count, 5);  // 96..100
    int64_t sum = 0;
    for (const auto& b : h) sum += b.count;
    EXPECT_EQ(sum, s.count());
}

TEST(DataStats, HistogramStartsAtTheShortestRecordAndKeepsEmptyBuckets) {
    TokenStats s;
    s.add(3000, 10);
    s.add(3001, 10);
    s.add(3100, 10);
    auto h = s.length_histogram();
    // 3000..3100 in width-8 buckets: 3000/8 = 375 to 3100/8 = 387.
    ASSERT_EQ(h.size(), 13u);
    EXPECT_EQ(h.front().lo, 3000);
    EXPECT_EQ(h.front().count, 2);
    EXPECT_EQ(h[1].count, 0);
    EXPECT_EQ(h.back().lo, 3096);
    EXPECT_EQ(h.back().count, 1);
    EXPECT_LE(s.length_histogram(5).size(), 5u);

    TokenStats one;
    one.add(7, 7);
    auto h1 = one.length_histogram();
    ASSERT_EQ(h1.size(), 1u);
    EXPECT_EQ(h1[0].lo, 7);
    EXPECT_EQ(h1[0].hi, 8);
    EXPECT_EQ(h1[0].count, 1);
    EXPECT_TRUE(TokenStats().length_histogram().empty());
}

TEST(DataStats, ReportCarriesTheHistogramNextToTheExistingTokenFields) {
    ValidationReport r;
    EXPECT_FALSE(r.to_json().contains("tokens"));  // no tokenizer: no token statistics
    r.model = "m";
    r.tokens.emplace();
    for (int i = 0; i < 40; ++i) r.tokens->add(10 + i * 10, 5);
    auto j = r.to_json()["tokens"];
    for (const char* k : {"count", "min", "mean", "p50", "p95", "max", "total", "trainable_tokens",
                          "model"})
        EXPECT_TRUE(j.contains(k)) << k;
    EXPECT_EQ(j["count"], 40);
    EXPECT_EQ(j["min"], 10);
    EXPECT_EQ(j["max"], 400);
    ASSERT_TRUE(j["histogram"].is_array());
    EXPECT_LE(j["histogram"].size(), 20u);
    int64_t sum = 0, prev_hi = -1;
    for (const auto& b : j["histogram"]) {
        if (prev_hi >= 0) {
            EXPECT_EQ(b["lo"], prev_hi);
        }
        prev_hi = b["hi"];
        sum += b["count"].get<int64_t>();
    }
    EXPECT_EQ(sum, 40);
    EXPECT_EQ(j["histogram"][0]["lo"], 0);  // width 32: 10/32 = 0 to 400/32 = 12
    EXPECT_EQ(j["histogram"][0]["hi"], 32);
    EXPECT_EQ(j["histogram"].size(), 13u);
}
