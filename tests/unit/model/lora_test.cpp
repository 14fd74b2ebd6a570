// LoRA layers. Expected values come from the LoRA formula (y = x W^T + b + s x A^T B^T,
// s = alpha / r or alpha / sqrt(r)) written out here in f64, never taken from the code under
// test.
//
// Legend: T positions, H hidden, r rank, in / out a projection's features, V vocab.
#include "model/lora.h"

#include <gtest/gtest.h>

#include <cmath>

#include "common/error.h"
#include "model/gemv.h"
#include "model/loader.h"
#include "model/model_init.h"
#include "unit/model/lora_test_helpers.h"

using namespace llmtune;
using namespace llmtune::model;
using namespace llmtune::model::lora_test;

TEST(Lora, FreshAdapterGivesExactlyTheBaseLogits) {
    for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
        auto lm = make(tiny(), dtype);
        auto base = logits(lm, ids(9));
        auto base_autograd = lm->forward(args_of(ids(9))).detach();  // plain torch ops, no kernels
        LoraConfig cfg;
        cfg.target_modules = {"all-linear"};
        apply_lora(lm, cfg, 3);
        EXPECT_TRUE(torch::equal(logits(lm, ids(9)), base));
        EXPECT_TRUE(torch::equal(lm->forward(args_of(ids(9))).detach(), base_autograd));
    }
}

TEST(Lora, ForwardIsBasePlusScaledLowRankTerm) {
    auto l = random_linear(64, 48);
    LoraConfig cfg;
    cfg.r = 4;
    cfg.alpha = 8;
    l->add_lora(cfg, at::detail::createCPUGenerator(1));
    torch::NoGradGuard g;
    l->lora_B->weight.copy_(torch::randn({48, 4}));
    auto x = torch::randn({2, 5, 64});
    EXPECT_LT(max_diff(l(x), naive_lora(x, *l, 8.0 / 4.0)), 1e-5);
}

TEST(Lora, RsLoraScalesByAlphaOverSqrtR) {
    LoraConfig cfg;
    cfg.r = 16;
    cfg.alpha = 8;
    EXPECT_DOUBLE_EQ(cfg.scaling(), 0.5);
    cfg.use_rslora = true;
    EXPECT_DOUBLE_EQ(cfg.scaling(), 2.0);
    auto l = random_linear(32, 24);
    l->add_lora(cfg, at::detail::createCPUGenerator(1));
    torch::NoGradGuard g;
    l->lora_B->weight.copy_(torch::randn({24, 16}));
    auto x = torch::randn({3, 32});
    EXPECT_LT(max_diff(l(x), naive_lora(x, *l, 8.0 / 4.0)), 1e-5);
    EXPECT_GT(max_diff(l(x), naive_lora(x, *l, 8.0 / 16.0)), 1e-2);  // not plain LoRA
}

TEST(Lora, AdaptedModelMatchesBaseWithFoldedWeights) {
    // The adapted model against a base model whose weights the test folds in f64 itself.
    auto lm = make(tiny());
    LoraConfig cfg;
    cfg.r = 4;
    cfg.alpha = 12;
    cfg.target_modules = {"all-linear"};
    apply_lora(lm, cfg, 2);
    randomize_b(lm);
    auto folded = make(tiny());
    {
        torch::NoGradGuard g;
        auto p = lm->named_parameters(true);
        auto q = folded->named_parameters(true);
        for (int64_t l = 0; l < 2; ++l)
            for (const auto& t : kAll) {
                auto m = module_of(l, t);
                auto a = p[m + ".lora_A.weight"].to(torch::kFloat64);
                auto b = p[m + ".lora_B.weight"].to(torch::kFloat64);
                q[m + ".weight"].copy_(q[m + ".weight"].to(torch::kFloat64) +
                                       (12.0 / 4.0) * torch::matmul(b, a));
            }
    }
    auto ours = logits(lm, ids(8)), ref = logits(folded, ids(8));
    EXPECT_GT(max_diff(ours, logits(make(tiny()), ids(8))), 1e-3);  // the adapter matters
    EXPECT_LT(max_diff(ours, ref), 1e-4);
}

TEST(Lora, TargetModulesSelectProjections) {
    auto lm = make(tiny());
    LoraConfig cfg;
    cfg.target_modules = {"down_proj", "q_proj"};
    apply_lora(lm, cfg, 1);
    std::set<std::string> want;
    for (int64_t l = 0; l < 2; ++l)
        for (const auto& t : {"q_proj", "down_proj"})
            for (const auto& ab : {".lora_A.weight", ".lora_B.weight"})
                want.insert(module_of(l, t) + ab);
    EXPECT_EQ(names_of(lora_parameters(lm)), want);

    auto all = make(tiny(Architecture::llama));  // untied: has an lm_head
    cfg.target_modules = {"all-linear"};
    apply_lora(all, cfg, 1);
    want.clear();
    for (int64_t l = 0; l < 2; ++l)
        for (const auto& t : kAll)
            for (const auto& ab : {".lora_A.weight", ".lora_B.weight"})
                want.insert(module_of(l, t) + ab);
    EXPECT_EQ(names_of(lora_parameters(all)), want);
    for (const auto& p : all->named_parameters(true))
        if (p.key().rfind("lm_head", 0) == 0 || p.key().find("embed") != std::string::npos) {
            EXPECT_EQ(p.key().find("lora"), std::string::npos) << p.key();
        }

    cfg.target_modules = {"lm_head", "q_proj"};
    auto msg = error_of([&] { apply_lora(lm, cfg, 1); });
    EXPECT_NE(msg.find("lm_head"), std::string::npos) << msg;
}

TEST(Lora, InitIsKaimingUniformAndZero) {
    const int64_t in = 256, out = 96, r = 64;
    auto l = random_linear(in, out);
    LoraConfig cfg;
    cfg.r = r;
    l->add_lora(cfg, at::detail::createCPUGenerator(42));
    auto a = l->lora_A->weight.detach().to(torch::kFloat64);
    ASSERT_EQ(a.sizes().vec(), (std::vector<int64_t>{r, in}));
    ASSERT_EQ(l->lora_B->weight.sizes().vec(), (std::vector<int64_t>{out, r}));
    EXPECT_EQ(l->lora_B->weight.abs().max().item<float>(), 0.0f);
    // kaiming_uniform(a = sqrt(5)): gain sqrt(2 / 6), bound gain * sqrt(3 / in) = 1 / sqrt(in).
    const double bound = std::sqrt(2.0 / 6.0) * std::sqrt(3.0 / in);
    const double n = static_cast<double>(a.numel());
    EXPECT_LE(a.abs().max().item<double>(), bound);
    EXPECT_GT(a.abs().max().item<double>(), 0.99 * bound);
    EXPECT_LT(std::abs(a.mean().item<double>()), 4 * bound / std::sqrt(3 * n));
    EXPECT_NEAR(a.var().item<double>(), bound * bound / 3, 0.03 * bound * bound / 3);
    auto hist = torch::histc(a, 10, -bound, bound);
    for (int64_t i = 0; i < 10; ++i)
        EXPECT_NEAR(hist[i].item<double>(), n / 10, 0.1 * n / 10) << "bin " << i;
    // Seeded: the same seed draws the same A, another seed another.
    auto same = random_linear(in, out), other = random_linear(in, out);
    same->add_lora(cfg, at::detail::createCPUGenerator(42));
    other->add_lora(cfg, at::detail::createCPUGenerator(43));
    EXPECT_TRUE(torch::equal(same->lora_A->weight, l->lora_A->weight));
    EXPECT_FALSE(torch::equal(other->lora_A->weight, l->lora_A->weight));
}

TEST(Lora, BaseIsFrozenAndGradientsReachOnlyTheAdapters) {
    auto lm = make(tiny());
    LoraConfig cfg;
    cfg.target_modules = {"q_proj", "v_proj", "up_proj"};
    apply_lora(lm, cfg, 1);
    randomize_b(lm);
    auto logp = torch::log_softmax(lm->forward(args_of(ids(6))), -1);  // (1, T, V)
    auto loss = -logp.index({0, torch::indexing::Slice(), 3}).mean();
    loss.backward();
    size_t adapters = 0;
    for (const auto& p : lm->named_parameters(true)) {
        const bool lora = p.key().find(".lora_") != std::string::npos;
        EXPECT_EQ(p.value().requires_grad(), lora) << p.key();
        if (lora) {
            ++adapters;
            ASSERT_TRUE(p.value().grad().defined()) << p.key();
            EXPECT_GT(p.value().grad().abs().max().item<float>(), 0.0f) << p.key();
        } else {
            EXPECT_FALSE(p.value().grad().defined()) << p.key();
        }
    }
    EXPECT_EQ(adapters, 2u * 3u * 2u);
}

TEST(Lora, Bf16BaseWithF32Adapters) {
    auto l = random_linear(64, 32, torch::kBFloat16);
    LoraConfig cfg;
    cfg.r = 8;
    cfg.alpha = 16;
    l->add_lora(cfg, at::detail::createCPUGenerator(1));
    EXPECT_EQ(l->lora_A->weight.scalar_type(), torch::kFloat32);
    EXPECT_EQ(l->lora_B->weight.scalar_type(), torch::kFloat32);
    {
        torch::NoGradGuard g;
        l->lora_B->weight.copy_(torch::randn({32, 8}));
    }
    auto x = torch::randn({4, 64}).to(torch::kBFloat16);
    auto y = l(x);
    EXPECT_EQ(y.scalar_type(), torch::kBFloat16);
    auto ref = naive_lora(x, *l, 2.0);
    EXPECT_LT(max_diff(y, ref) / ref.abs().max().item<double>(), 0.02);
    y.sum().backward();  // the adapter's gradients are f32
    EXPECT_EQ(l->lora_A->weight.grad().scalar_type(), torch::kFloat32);
    EXPECT_FALSE(l->weight.grad().defined());

    auto lm = make(tiny(), torch::kBFloat16);
    apply_lora(lm, cfg, 1);
    for (const auto& [name, t] : lora_parameters(lm))
        EXPECT_EQ(t.scalar_type(), torch::kFloat32) << name;
    EXPECT_EQ(lm->named_parameters(true)["model.layers.0.self_attn.q_proj.weight"].scalar_type(),
              torch::kBFloat16);
}

TEST(Lora, MergeGivesTheUnmergedLogits) {
    auto lm = make(tiny(Architecture::llama));
    LoraConfig cfg;
    cfg.r = 8;
    cfg.alpha = 32;
    cfg.target_modules = {"all-linear"};
    apply_lora(lm, cfg, 4);
    randomize_b(lm);
    auto before = logits(lm, ids(10));
    auto base_model = make(tiny(Architecture::llama));
    auto base_keys = names_of(model_state(base_model));
    merge_lora(lm);
    EXPECT_FALSE(has_lora(lm));
    EXPECT_TRUE(lora_parameters(lm).empty());
    EXPECT_EQ(names_of(model_state(lm)), base_keys);
    auto after = logits(lm, ids(10));
    EXPECT_GT(max_diff(before, logits(make(tiny(Architecture::llama)), ids(10))), 1e-3);
    EXPECT_LE(max_diff(before, after), 1e-5);

    auto bf = make(tiny(), torch::kBFloat16);  // merging keeps the base dtype
    apply_lora(bf, cfg, 4);
    randomize_b(bf);
    auto bf_before = logits(bf, ids(6));
    merge_lora(bf);
    for (const auto& p : bf->parameters())
        EXPECT_EQ(p.scalar_type(), torch::kBFloat16);
    EXPECT_LT(max_diff(bf_before, logits(bf, ids(6))) / bf_before.abs().max().item<double>(), 0.05);
}

TEST(Lora, SingleRowFastPathIncludesTheAdapter) {
    for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
        auto lm = make(tiny(), dtype);
        LoraConfig cfg;
        cfg.target_modules = {"all-linear"};
        apply_lora(lm, cfg, 1);
        randomize_b(lm);
        auto one = ids(1);
        torch::Tensor fast;
        {
            torch::NoGradGuard g;
            // This input really takes the single-row kernel.
            ASSERT_TRUE(can_use_single_row_linear(
                torch::ones({1, 1, 192}, dtype),
                lm->named_parameters(true)["model.layers.0.self_attn.q_proj.weight"]));
            fast = lm->forward(args_of(one));
        }
        auto full = lm->forward(args_of(one)).detach();  // grad on: plain torch::linear
        auto rel = max_diff(fast, full) / full.abs().max().item<double>();
        EXPECT_LT(rel, dtype == torch::kFloat32 ? 1e-5 : 2e-2) << c10::toString(dtype);
        // And decoding with the KV cache agrees with the full forward.
        torch::NoGradGuard g;
        auto seq = ids(6);
        auto ref = lm->forward(args_of(seq))[0];  // (T, V)
        KVCache cache(lm->config(), 1, 8, lm->options());
        std::vector<torch::Tensor> steps;
        for (int64_t t = 0; t < 6; ++t)
            steps.push_back(lm->forward(args_of(seq.narrow(1, t, 1), &cache))[0]);
        auto rel2 = max_diff(torch::cat(steps, 0), ref) / ref.abs().max().item<double>();
        EXPECT_LT(rel2, dtype == torch::kFloat32 ? 1e-5 : 5e-2) << c10::toString(dtype);
    }
}

TEST(Lora, DropoutOnlyWhileTraining) {
    auto l = random_linear(64, 32);
    LoraConfig cfg;
    cfg.dropout = 0.5;
    l->add_lora(cfg, at::detail::createCPUGenerator(1));
    {
        torch::NoGradGuard g;
        l->lora_B->weight.copy_(torch::randn({32, 8}));
    }
    auto x = torch::randn({4, 64});
    auto a = l(x).detach(), b = l(x).detach();
    EXPECT_GT(max_diff(a, b), 1e-4);  // dropout masks differ between calls
    torch::NoGradGuard g;
    EXPECT_LT(max_diff(l(x), naive_lora(x, *l, 2.0)), 1e-5);  // no dropout without grad
    l->eval();
    EXPECT_LT(max_diff(l(x), naive_lora(x, *l, 2.0)), 1e-5);
}
