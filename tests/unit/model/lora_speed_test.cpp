// The LoRA training speed paths (shared adapter input for q/k/v and gate/up, frozen base)
// give what the plain per-projection path gives, and the frozen base never gets a weight
// gradient computed.
//
// Legend: T positions, H hidden, I intermediate, r rank.
#include <gtest/gtest.h>

#include <set>
#include <unordered_set>

#include <torch/csrc/autograd/functions/accumulate_grad.h>

#include "model/lora.h"
#include "model/swiglu.h"
#include "unit/model/lora_test_helpers.h"

namespace llmtune::model {
namespace {

using namespace lora_test;

// A bf16 tiny model with f32 adapters on every projection, random lora_B.
CausalLM bf16_lora_model() {
    auto lm = make(tiny(), torch::kBFloat16);
    LoraConfig cfg;
    cfg.r = 4;
    cfg.alpha = 8;
    cfg.target_modules = {"all-linear"};
    cfg.dtype = torch::kFloat32;
    apply_lora(lm, cfg, 3);
    randomize_b(lm);
    return lm;
}

void zero_grads(CausalLM& lm) {
    for (auto& p : lm->parameters())
        if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
}

// A fixed, non-uniform weighting of an output for a scalar objective.
torch::Tensor weights_of(const torch::Tensor& out) {
    return torch::linspace(-1, 1, out.numel()).view(out.sizes());
}

// The gradient of `loss(x)` with respect to every adapter and to x, from a fresh leaf x.
struct Grads {
    torch::Tensor out;
    std::vector<torch::Tensor> adapters;
    torch::Tensor x;
};

template <typename F>
Grads grads_of(CausalLM& lm, const torch::Tensor& x0, F&& f) {
    zero_grads(lm);
    auto x = x0.clone().set_requires_grad(true);
    auto out = f(x);
    (out.to(torch::kFloat32) * torch::linspace(-1, 1, out.numel()).view(out.sizes()))
        .sum()
        .backward();
    Grads g{out.detach(), {}, x.grad()};
    for (const auto& [name, t] : lora_parameters(lm))
        if (t.grad().defined()) g.adapters.push_back(t.grad().clone());
    return g;
}

void expect_same(const Grads& shared, const Grads& plain) {
    // Same casts and products forward: bit for bit.
    EXPECT_TRUE(torch::equal(shared.out, plain.out));
    // The adapters' gradients read the same f32 input and output gradient: bit for bit.
    ASSERT_EQ(shared.adapters.size(), plain.adapters.size());
    ASSERT_FALSE(shared.adapters.empty());
    for (size_t i = 0; i < shared.adapters.size(); ++i)
        EXPECT_TRUE(torch::equal(shared.adapters[i], plain.adapters[i])) << i;
    // x's gradient: the shared path sums the adapter terms in f32 and rounds once to bf16,
    // the plain path rounds each to bf16 before summing; equal up to bf16 rounding.
    ASSERT_TRUE(shared.x.defined() && plain.x.defined());
    const double scale = plain.x.abs().max().item<double>();
    EXPECT_GT(scale, 0.0);
    EXPECT_LT(max_diff(shared.x, plain.x), 0.02 * scale);
}

TEST(LoraSpeed, MlpSharedInputMatchesPerProjectionPath) {
    auto lm = bf16_lora_model();
    auto& mlp = *lm->model->layers->ptr<DecoderLayerImpl>(0)->mlp;
    const int64_t h = lm->config().hidden_size;
    torch::manual_seed(7);
    auto x0 = torch::randn({2, 5, h}).to(torch::kBFloat16);  // (B, T, H)
    auto shared = grads_of(lm, x0, [&](const torch::Tensor& x) { return mlp.forward(x); });
    auto plain = grads_of(lm, x0, [&](const torch::Tensor& x) {
        return mlp.down_proj(swiglu(mlp.gate_proj(x), mlp.up_proj(x)));  // bf16: fused
    });
    expect_same(shared, plain);
}

TEST(LoraSpeed, QkvSharedInputMatchesPerProjectionPath) {
    auto lm = bf16_lora_model();
    auto& attn = *lm->model->layers->ptr<DecoderLayerImpl>(1)->self_attn;
    const int64_t h = lm->config().hidden_size;
    torch::manual_seed(8);
    auto x0 = torch::randn({2, 5, h}).to(torch::kBFloat16);  // (B, T, H)
    auto shared = grads_of(lm, x0, [&](const torch::Tensor& x) {
        auto xa = attn.q_proj->adapter_input(x);
        EXPECT_EQ(xa.scalar_type(), torch::kBFloat16);  // f32 adapters compute in bf16
        return torch::cat({attn.q_proj->forward_shared(x, xa), attn.k_proj->forward_shared(x, xa),
                           attn.v_proj->forward_shared(x, xa)},
                          -1);
    });
    auto plain = grads_of(lm, x0, [&](const torch::Tensor& x) {
        return torch::cat({attn.q_proj(x), attn.k_proj(x), attn.v_proj(x)}, -1);
    });
    expect_same(shared, plain);
}

TEST(LoraSpeed, SharedInputOfAnotherDtypeIsRecast) {
    auto lm = bf16_lora_model();
    auto& q = *lm->model->layers->ptr<DecoderLayerImpl>(0)->self_attn->q_proj;
    torch::NoGradGuard g;
    auto x = torch::randn({1, 3, lm->config().hidden_size}).to(torch::kBFloat16);
    // An f32 "shared" input (the wrong dtype: f32 adapters on a bf16 input compute in bf16)
    // and none at all: both recast.
    EXPECT_TRUE(torch::equal(q.forward_shared(x, x.to(torch::kFloat32)), q.forward(x)));
    EXPECT_TRUE(torch::equal(q.forward_shared(x, {}), q.forward(x)));
}

// f32 adapters on a bf16 base compute the LoRA term as autocast does: A and B (scaling folded
// in) rounded to bf16, bf16 products, added to the bf16 base output; the gradients reach the
// f32 master weights in f32. An f32 base computes everything in f32 as before.
TEST(LoraSpeed, F32AdaptersOnABf16BaseComputeInBf16) {
    for (auto base : {torch::kBFloat16, torch::kFloat32}) {
        auto lm = make(tiny(), base);
        LoraConfig cfg;
        cfg.r = 4;
        cfg.alpha = 8;
        cfg.target_modules = {"all-linear"};
        apply_lora(lm, cfg, 3);
        randomize_b(lm);
        auto& q = *lm->model->layers->ptr<DecoderLayerImpl>(0)->self_attn->q_proj;
        EXPECT_EQ(q.adapter_compute_dtype(torch::ones({1}, base)), base);
        torch::manual_seed(9);
        auto x = torch::randn({2, 3, lm->config().hidden_size}).to(base);  // (B, T, H)
        auto y = q.forward(x);
        torch::Tensor expected;
        {
            torch::NoGradGuard g;
            auto a = q.lora_A->weight.to(base), b = (q.lora_B->weight * q.lora_scaling).to(base);
            expected =
                torch::linear(x, q.weight, q.bias).add_(torch::linear(torch::linear(x, a), b));
        }
        EXPECT_TRUE(torch::equal(y.detach(), expected)) << c10::toString(base);
        (y.to(torch::kFloat32) * weights_of(y)).sum().backward();
        EXPECT_EQ(q.lora_A->weight.grad().scalar_type(), torch::kFloat32);
        EXPECT_EQ(q.lora_B->weight.grad().scalar_type(), torch::kFloat32);
        EXPECT_GT(q.lora_A->weight.grad().abs().max().item<double>(), 0.0);
    }
}

// Walks the autograd graph of a training loss: every leaf it reaches is an adapter, so no
// node computes a gradient for a frozen base weight (autograd computes an input's gradient
// only along an edge to something that requires grad).
TEST(LoraSpeed, FrozenBaseGetsNoWeightGradientInTheGraph) {
    for (bool checkpointing : {false, true}) {
        auto lm = bf16_lora_model();
        lm->set_gradient_checkpointing(checkpointing);
        lm->train();
        std::set<const void*> adapters;
        for (const auto& [name, t] : lora_parameters(lm))
            adapters.insert(t.unsafeGetTensorImpl());
        auto logits = lm->forward(args_of(ids(6)));  // (1, T, V)
        auto loss = logits.logsumexp(-1).mean();
        std::unordered_set<torch::autograd::Node*> seen;
        std::vector<torch::autograd::Node*> todo{loss.grad_fn().get()};
        size_t leaves = 0;
        while (!todo.empty()) {
            auto* node = todo.back();
            todo.pop_back();
            if (!node || !seen.insert(node).second) continue;
            if (auto* acc = dynamic_cast<torch::autograd::AccumulateGrad*>(node)) {
                ++leaves;
                EXPECT_TRUE(adapters.count(acc->variable.unsafeGetTensorImpl()))
                    << "a gradient flows to a tensor that is not an adapter";
            }
            for (const auto& e : node->next_edges())
                todo.push_back(e.function.get());
        }
        // Without checkpointing every adapter is a leaf of the graph; with it, the layers'
        // adapters are reached in the recomputation inside backward instead.
        if (!checkpointing) {
            EXPECT_EQ(leaves, adapters.size());
        }
        loss.backward();
        for (const auto& p : lm->named_parameters(true)) {
            const bool lora = p.key().find(".lora_") != std::string::npos;
            EXPECT_EQ(p.value().grad().defined(), lora) << p.key();
        }
    }
}

}  // namespace
}  // namespace llmtune::model
