#include "infer/sampler.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "common/error.h"

using namespace llmtune::infer;

namespace {
torch::Tensor logits_of(std::vector<float> v) {
    return torch::tensor(v);
}

std::map<int64_t, int> histogram(SamplingParams p, const torch::Tensor& logits, int n,
                                 std::vector<int64_t> ctx = {}) {
    Sampler s(p);
    std::map<int64_t, int> h;
    for (int i = 0; i < n; ++i)
        h[s.sample(logits, ctx)]++;
    return h;
}
}  // namespace

TEST(Sampler, GreedyTakesTheArgmax) {
    SamplingParams p;
    p.temperature = 0;
    Sampler s(p);
    EXPECT_EQ(s.sample(logits_of({0.1f, 3.0f, -1.0f, 2.9f}), {}), 1);
}

TEST(Sampler, RepetitionPenaltyFollowsTransformers) {
    // Penalty 2: a positive logit is halved, a negative one doubled; 3.0 -> 1.5 < 2.9.
    SamplingParams p;
    p.temperature = 0;
    p.repetition_penalty = 2.0;
    Sampler s(p);
    EXPECT_EQ(s.sample(logits_of({0.1f, 3.0f, -1.0f, 2.9f}), {1}), 3);
    EXPECT_EQ(s.sample(logits_of({-0.5f, -0.6f}), {0}), 1);  // -0.5 -> -1.0
}

TEST(Sampler, TopKOneIsGreedy) {
    SamplingParams p;
    p.top_k = 1;
    p.seed = 5;
    auto h = histogram(p, logits_of({1.0f, 1.5f, 0.2f, 1.4f}), 200);
    EXPECT_EQ(h.size(), 1u);
    EXPECT_EQ(h.begin()->first, 1);
}

TEST(Sampler, TopPKeepsTheSmallestNucleus) {
    // probs ~ [0.64, 0.24, 0.09, 0.03]: top_p 0.8 keeps the first two only.
    SamplingParams p;
    p.top_p = 0.8;
    auto logits = torch::log(torch::tensor({0.64f, 0.24f, 0.09f, 0.03f}));
    auto h = histogram(p, logits, 2000);
    std::set<int64_t> seen;
    for (auto& kv : h)
        seen.insert(kv.first);
    EXPECT_EQ(seen, (std::set<int64_t>{0, 1}));
    // Renormalized over the two: 0.64 / 0.88 = 0.727.
    EXPECT_NEAR(h[0] / 2000.0, 0.727, 0.04);
}

TEST(Sampler, MinPDropsTokensBelowTheScaledTopProbability) {
    SamplingParams p;
    p.min_p = 0.2;  // floor = 0.2 * 0.5 = 0.1
    auto logits = torch::log(torch::tensor({0.5f, 0.3f, 0.12f, 0.08f}));
    auto h = histogram(p, logits, 2000);
    EXPECT_EQ(h.count(3), 0u);
    EXPECT_GT(h[2], 0);
}

TEST(Sampler, TemperatureSharpensTheDistribution) {
    auto logits = torch::log(torch::tensor({0.6f, 0.4f}));
    SamplingParams cold;
    cold.temperature = 0.25;  // 0.6^4 / (0.6^4 + 0.4^4) = 0.835
    auto h = histogram(cold, logits, 4000);
    EXPECT_NEAR(h[0] / 4000.0, 0.835, 0.03);
}

TEST(Sampler, SameSeedSameChoices) {
    SamplingParams p;
    p.seed = 42;
    auto logits = torch::randn({500});
    Sampler a(p), b(p);
    for (int i = 0; i < 100; ++i)
        EXPECT_EQ(a.sample(logits, {}), b.sample(logits, {}));
    p.seed = 43;
    Sampler c(p), d(SamplingParams{1.0, 0, 1.0, 0.0, 1.0, 42});
    int same = 0;
    for (int i = 0; i < 100; ++i)
        same += c.sample(logits, {}) == d.sample(logits, {});
    EXPECT_LT(same, 100);
}

TEST(Sampler, InvalidParametersAreRejectedByName) {
    auto expect_bad = [](SamplingParams p, const std::string& name) {
        try {
            p.validate();
            FAIL() << "accepted " << name;
        } catch (const llmtune::Error& e) {
            EXPECT_NE(e.message().find(name), std::string::npos) << e.message();
        }
    };
    SamplingParams p;
    p.temperature = -1;
    expect_bad(p, "temperature");
    p = {};
    p.top_p = 0;
    expect_bad(p, "top_p");
    p = {};
    p.top_k = -3;
    expect_bad(p, "top_k");
    p = {};
    p.min_p = 1.5;
    expect_bad(p, "min_p");
    p = {};
    p.repetition_penalty = 0;
    expect_bad(p, "repetition_penalty");
}
