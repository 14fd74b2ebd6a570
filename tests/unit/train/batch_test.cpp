// Batches from training examples: padding, packing (block-diagonal causal bias, restarting
// positions, targets that never cross a boundary), and a packed row through a tiny decoder
// giving each example the logits it gets alone.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/error.h"
#include "model/model_init.h"
#include "train/batch.h"

namespace llmtune::train {
namespace {

using data::kIgnoreTarget;
using data::TrainingExample;

// An example of `n` tokens (ids from `first`) whose targets are the shifted ids from `from` on.
TrainingExample example(int n, int32_t first, int from = 0) {
    TrainingExample ex;
    for (int i = 0; i < n; ++i)
        ex.input_ids.push_back(first + i);
    ex.targets.assign(static_cast<size_t>(n), kIgnoreTarget);
    for (int i = std::max(from - 1, 0); i + 1 < n; ++i)
        ex.targets[static_cast<size_t>(i)] = ex.input_ids[static_cast<size_t>(i + 1)];
    return ex;
}

TEST(TrainingExample, TargetCountCountsNonIgnored) {
    EXPECT_EQ(example(5, 10).target_count(), 4);
    EXPECT_EQ(example(5, 10, 3).target_count(), 2);
    EXPECT_EQ(TrainingExample{}.target_count(), 0);
}

TEST(Batch, PaddedRowsAreRightPaddedWithoutBias) {
    auto a = example(3, 10), b = example(5, 20, 2);
    Batch batch = make_padded_batch({&a, &b}, 0);
    ASSERT_EQ(batch.input_ids.sizes(), (std::vector<int64_t>{2, 5}));
    EXPECT_FALSE(batch.attention_bias.defined());
    EXPECT_TRUE(torch::equal(batch.input_ids,
                             torch::tensor({10, 11, 12, 0, 0, 20, 21, 22, 23, 24}).view({2, 5})));
    EXPECT_TRUE(torch::equal(
        batch.targets, torch::tensor({11, 12, -100, -100, -100, -100, 22, 23, 24, -100})
                           .view({2, 5})));
    EXPECT_TRUE(torch::equal(batch.position_ids[1], torch::arange(5)));
    EXPECT_EQ(batch.tokens, 8);
    EXPECT_EQ(batch.target_tokens, 2 + 3);
}

TEST(Batch, RejectsBadInput) {
    TrainingExample empty;
    auto a = example(3, 1);
    EXPECT_THROW(make_padded_batch({}, 0), Error);
    EXPECT_THROW(make_padded_batch({&empty}, 0), Error);
    auto bad = a;
    bad.targets.pop_back();
    EXPECT_THROW(make_padded_batch({&bad}, 0), Error);
    EXPECT_THROW(make_packed_batch({{&a, &a}}, 5, 0, torch::kFloat32), Error);  // 6 > 5
}

TEST(Batch, PackedRowIsBlockDiagonalCausal) {
    auto a = example(3, 10), b = example(4, 20, 1), c = example(2, 30);
    Batch batch = make_packed_batch({{&a, &b}, {&c}}, 8, 0, torch::kFloat32);
    ASSERT_EQ(batch.attention_bias.sizes(), (std::vector<int64_t>{2, 1, 8, 8}));
    EXPECT_TRUE(torch::equal(batch.position_ids,
                             torch::tensor({0, 1, 2, 0, 1, 2, 3, 0, 0, 1, 0, 0, 0, 0, 0, 0})
                                 .view({2, 8})));
    EXPECT_TRUE(torch::equal(
        batch.targets, torch::tensor({11, 12, -100, 21, 22, 23, -100, -100,  //
                                      31, -100, -100, -100, -100, -100, -100, -100})
                           .view({2, 8})));
    EXPECT_EQ(batch.tokens, 9);
    EXPECT_EQ(batch.target_tokens, 2 + 3 + 1);
    // The expected mask, written out from the row layout: segments [0,3) [3,7) and padding.
    auto seg_of = [](int64_t row, int64_t p) -> int64_t {
        if (row == 0) return p < 3 ? 0 : p < 7 ? 1 : -1;
        return p < 2 ? 0 : -1;
    };
    auto bias = batch.attention_bias;
    const float lowest = std::numeric_limits<float>::lowest();
    for (int64_t r = 0; r < 2; ++r)
        for (int64_t q = 0; q < 8; ++q)
            for (int64_t k = 0; k < 8; ++k) {
                bool allowed = k == q || (k < q && seg_of(r, q) >= 0 && seg_of(r, q) == seg_of(r, k));
                EXPECT_EQ(bias[r][0][q][k].item<float>(), allowed ? 0.0f : lowest)
                    << "row " << r << " query " << q << " key " << k;
            }
    // Targets never point into the next example: the last position of each is ignored.
    EXPECT_EQ(batch.targets[0][2].item<int64_t>(), kIgnoreTarget);
}

TEST(Batch, PackedBiasHonoursSlidingWindowAndDtype) {
    auto a = example(5, 10);
    Batch batch = make_packed_batch({{&a}}, 5, 0, torch::kBFloat16, 2);
    ASSERT_EQ(batch.attention_bias.scalar_type(), torch::kBFloat16);
    auto allowed = batch.attention_bias[0][0] == 0;  // (T, T)
    auto q = torch::arange(5).unsqueeze(1), k = torch::arange(5).unsqueeze(0);
    EXPECT_TRUE(torch::equal(allowed, (k <= q) & (q - k < 2)));
    EXPECT_TRUE(torch::isfinite(batch.attention_bias).all().item<bool>());
}

model::CausalLM tiny_model(model::Architecture arch = model::Architecture::qwen3,
                           int64_t sliding_window = 0, torch::Dtype dtype = torch::kFloat32) {
    model::ModelConfig c = model::preset_config("tiny", arch, 200);
    c.num_hidden_layers = 2;
    c.sliding_window = sliding_window;
    model::CausalLM lm(c, torch::TensorOptions().dtype(dtype));
    model::init_random_weights(lm, 7);
    lm->eval();
    return lm;
}

TEST(Batch, PackedExamplesGetTheLogitsTheyGetAlone) {
    torch::NoGradGuard no_grad;
    auto lm = tiny_model();
    auto a = example(5, 3), b = example(7, 40), c = example(3, 90), d = example(6, 120);
    // Row 0: a, b and 3 padding positions; row 1: c, d and 6 padding positions.
    Batch batch = make_packed_batch({{&a, &b}, {&c, &d}}, 15, 0, torch::kFloat32);
    model::ForwardArgs args;
    args.input_ids = batch.input_ids;
    args.position_ids = batch.position_ids;
    args.attention_bias = batch.attention_bias;
    auto packed = lm->forward(args);  // (B, T, V)
    EXPECT_FALSE(torch::isnan(packed).any().item<bool>());
    struct Placed {
        const TrainingExample* ex;
        int64_t row, at;
    };
    for (const Placed& p : {Placed{&a, 0, 0}, Placed{&b, 0, 5}, Placed{&c, 1, 0}, Placed{&d, 1, 3}}) {
        model::ForwardArgs alone;
        alone.input_ids =
            torch::tensor(std::vector<int64_t>(p.ex->input_ids.begin(), p.ex->input_ids.end()))
                .unsqueeze(0);
        auto expected = lm->forward(alone)[0];  // (T, V)
        auto got = packed[p.row].narrow(0, p.at, p.ex->size());
        EXPECT_LT((got - expected).abs().max().item<double>(), 1e-5)
            << "example at row " << p.row << " offset " << p.at;
    }
    // Padded rows (plain causal, no bias) agree with the lone runs too.
    Batch padded = make_padded_batch({&a, &b}, 0);
    model::ForwardArgs pargs;
    pargs.input_ids = padded.input_ids;
    pargs.position_ids = padded.position_ids;
    auto plog = lm->forward(pargs);
    model::ForwardArgs alone;
    alone.input_ids = torch::tensor(std::vector<int64_t>(a.input_ids.begin(), a.input_ids.end()))
                          .unsqueeze(0);
    EXPECT_LT((plog[0].narrow(0, 0, 5) - lm->forward(alone)[0]).abs().max().item<double>(), 1e-5);
}

// Mistral's sliding window: the packed bias must apply the window inside each example exactly
// as the decoder's own mask does for a lone example.
TEST(Batch, PackedSlidingWindowMatchesLoneRuns) {
    torch::NoGradGuard no_grad;
    auto lm = tiny_model(model::Architecture::mistral, 3);
    auto a = example(6, 3), b = example(7, 40);
    Batch batch = make_packed_batch({{&a, &b}}, 14, 0, torch::kFloat32, 3);
    model::ForwardArgs args;
    args.input_ids = batch.input_ids;
    args.position_ids = batch.position_ids;
    args.attention_bias = batch.attention_bias;
    auto packed = lm->forward(args)[0];  // (T, V)
    int64_t at = 0;
    for (const TrainingExample* ex : {&a, &b}) {
        model::ForwardArgs alone;
        alone.input_ids =
            torch::tensor(std::vector<int64_t>(ex->input_ids.begin(), ex->input_ids.end()))
                .unsqueeze(0);
        auto expected = lm->forward(alone)[0];
        EXPECT_LT((packed.narrow(0, at, ex->size()) - expected).abs().max().item<double>(), 1e-5);
        at += ex->size();
    }
}

// In bf16 a padding-heavy packed batch stays finite (padding rows attend to themselves).
TEST(Batch, PackedBf16HasNoNaN) {
    torch::NoGradGuard no_grad;
    auto lm = tiny_model(model::Architecture::qwen3, 0, torch::kBFloat16);
    auto a = example(3, 3);
    Batch batch = make_packed_batch({{&a}, {&a, &a}}, 16, 0, torch::kBFloat16);
    model::ForwardArgs args;
    args.input_ids = batch.input_ids;
    args.position_ids = batch.position_ids;
    args.attention_bias = batch.attention_bias;
    EXPECT_TRUE(torch::isfinite(lm->forward(args)).all().item<bool>());
}

}  // namespace
}  // namespace llmtune::train
