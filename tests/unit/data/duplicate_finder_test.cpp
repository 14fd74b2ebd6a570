// DuplicateFinder: exact duplicates with their first line, the same whether the entries stay
// in memory or go through sorted runs on disk; and a report that lists few but counts all.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "data/dataset.h"
#include "data/duplicate_finder.h"
#include "data_test_util.h"

using namespace llmtune;
using namespace llmtune::data;

namespace {

// The expected duplicates, by brute force.
std::vector<std::pair<uint64_t, uint64_t>> expected(const std::vector<std::string>& records) {
    std::map<std::string, uint64_t> first;
    std::vector<std::pair<uint64_t, uint64_t>> out;
    for (size_t i = 0; i < records.size(); ++i) {
        auto [it, inserted] = first.emplace(records[i], i + 1);
        if (!inserted) out.emplace_back(i + 1, it->second);
    }
    return out;
}

}  // namespace

TEST(DataDuplicates, SortedRunsOnDiskFindTheSameDuplicatesAsMemory) {
    std::mt19937 rng(3);
    std::vector<std::string> records;
    for (int i = 0; i < 5000; ++i)
        records.push_back("record " + std::to_string(rng() % 3000));
    auto want = expected(records);
    ASSERT_GT(want.size(), 1000u);
    // In memory, runs of 4500 (sorted by buckets), of 100 and of 16 (sorted directly).
    for (size_t buffer : {size_t(1) << 20, size_t(24 * 4500), size_t(24 * 100), size_t(24 * 16)}) {
        DuplicateFinder f(buffer);
        for (size_t i = 0; i < records.size(); ++i)
            f.add(content_hash128(records[i]), i + 1);
        auto all = f.finish(1000000);
        EXPECT_EQ(all.total, want.size());
        EXPECT_EQ(all.listed, want) << "buffer " << buffer << ", runs " << f.runs();
        if (buffer < 24 * 1000) {
            EXPECT_GT(f.runs(), 10u);
        }
    }
    DuplicateFinder f(24 * 100);
    for (size_t i = 0; i < records.size(); ++i)
        f.add(content_hash128(records[i]), i + 1);
    auto few = f.finish(7);
    EXPECT_EQ(few.total, want.size());
    using Pairs = std::vector<std::pair<uint64_t, uint64_t>>;
    EXPECT_EQ(few.listed, Pairs(want.begin(), want.begin() + 7));
}

TEST(DataDuplicates, TheReportListsUpToItsCapAndCountsAll) {
    test::TempDir tmp;
    std::string text;
    for (int i = 0; i < 300; ++i)
        text += R"({"messages": [{"role": "user", "content": "q)" + std::to_string(i % 100) +
                R"("}, {"role": "assistant", "content": "a"}]})" + "\n";
    test::write_file(tmp.file("d.jsonl"), text);
    DataOptions o;
    o.warning_cap = 50;
    auto r = scan_dataset(tmp.file("d.jsonl"), o, nullptr);
    EXPECT_EQ(r.warning_counts["duplicate"], 200u);
    EXPECT_EQ(r.warning_total, 200u);
    ASSERT_EQ(r.warnings.size(), 50u);
    EXPECT_EQ(r.warnings[0].line, 101u);
    EXPECT_EQ(r.warnings[0].message, "exact duplicate of the record at line 1");
    EXPECT_EQ(r.warnings[49].line, 150u);
}
