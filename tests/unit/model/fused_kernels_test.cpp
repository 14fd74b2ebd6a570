// The fused training kernels (model/fused_softmax.h, model/swiglu.h) against the unfused torch
// expressions they replace: values and gradients, in f32 (to f32 rounding) and bf16 (to bf16
// rounding), on the AVX-512 path (where the CPU has it) and on the portable path. Sizes are
// odd so that the vector loops' tails are exercised.
//
// Legend: B batch, R rows per batch element, T query positions, S keys, I features.
#include <gtest/gtest.h>

#include <limits>

#include "model/fused_norm_rope.h"
#include "model/fused_softmax.h"
#include "model/rope.h"
#include "model/swiglu.h"
#include "unit/model/lora_test_helpers.h"

namespace llmtune::model {
namespace {

double max_abs(const torch::Tensor& a) {
    return a.abs().max().item<double>();
}
double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
    return max_abs(a.to(torch::kFloat32) - b.to(torch::kFloat32));
}

// Both kernel paths for one test body; the portable one is forced, the AVX-512 one is taken
// where the CPU has it (otherwise the body simply runs the portable path twice).
template <typename F>
void for_each_path(F&& body) {
    for (bool scalar : {false, true}) {
        detail::force_scalar_kernels(scalar);
        SCOPED_TRACE(scalar ? "portable path" : "default path");
        body();
    }
    detail::force_scalar_kernels(false);
}

// A fixed, non-uniform weighting of the output so every element's gradient differs.
torch::Tensor weights_like(const torch::Tensor& t) {
    return torch::arange(t.numel()).to(torch::kFloat32).mul(0.7).sin().mul(3).view(t.sizes());
}

// ---- SwiGLU ----

struct SwiGluGrads {
    torch::Tensor out, dgate, dup;
};

template <typename F>
SwiGluGrads swiglu_grads(const torch::Tensor& g0, const torch::Tensor& u0, F&& f) {
    auto g = g0.clone().set_requires_grad(true), u = u0.clone().set_requires_grad(true);
    auto out = f(g, u);
    (out.to(torch::kFloat32) * weights_like(out)).sum().backward();
    return {out.detach(), g.grad(), u.grad()};
}

TEST(FusedKernels, SwiGluMatchesSiluTimesUpInF32) {
    torch::manual_seed(1);
    auto g = torch::randn({3, 5, 37}) * 4, u = torch::randn({3, 5, 37});
    for_each_path([&] {
        auto fused = swiglu_grads(g, u, [](auto& a, auto& b) { return swiglu(a, b); });
        auto ref = swiglu_grads(g, u, [](auto& a, auto& b) { return torch::silu(a) * b; });
        EXPECT_LT(max_diff(fused.out, ref.out), 1e-5 * max_abs(ref.out));
        EXPECT_LT(max_diff(fused.dgate, ref.dgate), 1e-5 * max_abs(ref.dgate));
        EXPECT_LT(max_diff(fused.dup, ref.dup), 1e-5 * max_abs(ref.dup));
    });
}

TEST(FusedKernels, SwiGluInBf16IsTheF32ResultRounded) {
    torch::manual_seed(2);
    auto g = (torch::randn({2, 7, 41}) * 4).to(torch::kBFloat16);
    auto u = torch::randn({2, 7, 41}).to(torch::kBFloat16);
    // Reference: the unfused expression in f32 on the same (bf16-exact) inputs.
    auto ref = swiglu_grads(g.to(torch::kFloat32), u.to(torch::kFloat32),
                            [](auto& a, auto& b) { return torch::silu(a) * b; });
    for_each_path([&] {
        auto fused = swiglu_grads(g, u, [](auto& a, auto& b) { return swiglu(a, b); });
        EXPECT_EQ(fused.out.scalar_type(), torch::kBFloat16);
        EXPECT_EQ(fused.dgate.scalar_type(), torch::kBFloat16);
        // One rounding to bf16 (relative 2^-9) per result, on f32 arithmetic.
        auto rel = [](const torch::Tensor& a, const torch::Tensor& r) {
            return ((a.to(torch::kFloat32) - r).abs() / (r.abs() + 1e-30)).max().item<double>();
        };
        EXPECT_LE(rel(fused.out, ref.out), 1.0 / 256);
        // Gradients: the incoming gradient was rounded to bf16 too, so two roundings.
        EXPECT_LT(max_diff(fused.dgate, ref.dgate), 1.0 / 128 * max_abs(ref.dgate));
        EXPECT_LT(max_diff(fused.dup, ref.dup), 1.0 / 128 * max_abs(ref.dup));
    });
}

TEST(FusedKernels, SwiGluRejectsMismatchedInputs) {
    auto a = torch::randn({4, 8}), b = torch::randn({4, 8}).to(torch::kBFloat16);
    EXPECT_FALSE(swiglu_supports(a, b));
    EXPECT_FALSE(swiglu_supports(a, torch::randn({4, 9})));
    EXPECT_FALSE(swiglu_supports(a.to(torch::kFloat64), b.to(torch::kFloat64)));
    EXPECT_TRUE(swiglu_supports(a, a));
}

// ---- the attention softmax ----

// Scores laid out as grouped attention does: (B, nkv, g*T, S), row r of a batch element at
// query position r % T; bias (Bb, 1, T, S).
torch::Tensor unfused_softmax(const torch::Tensor& scores, const torch::Tensor& bias, int64_t t,
                              double scale) {
    const int64_t b = scores.size(0), nkv = scores.size(1), s = scores.size(3);
    const int64_t g = scores.size(2) / t;
    auto x = scores * scale;
    if (bias.defined())
        x = (x.view({b, nkv, g, t, s}) + bias.unsqueeze(1)).view({b, nkv, g * t, s});
    return torch::softmax(x, -1);
}

// A causal bias with a padded row per batch element, in the dtype's lowest finite value
// (what causal_bias and the collator write).
torch::Tensor test_bias(int64_t bb, int64_t t, int64_t s, torch::Dtype dtype) {
    auto q = torch::arange(t).unsqueeze(1) + (s - t), k = torch::arange(s).unsqueeze(0);
    auto allowed = (k <= q).unsqueeze(0).repeat({bb, 1, 1});  // (Bb, T, S)
    allowed.select(0, bb - 1).select(0, 1).narrow(0, 0, 3).fill_(false);
    const double lowest =
        dtype == torch::kBFloat16 ? -3.3895313892515355e38 : std::numeric_limits<float>::lowest();
    return torch::where(allowed, torch::zeros({}, dtype), torch::full({}, lowest, dtype))
        .unsqueeze(1);
}

struct SoftmaxGrads {
    torch::Tensor out, dscores;
};

template <typename F>
SoftmaxGrads softmax_grads(const torch::Tensor& s0, F&& f) {
    auto s = s0.clone().set_requires_grad(true);
    auto out = f(s);
    (out.to(torch::kFloat32) * weights_like(out)).sum().backward();
    return {out.detach(), s.grad()};
}

TEST(FusedKernels, AttentionSoftmaxMatchesTheUnfusedChainInF32) {
    torch::manual_seed(3);
    const int64_t t = 5, s = 21;
    const double scale = 0.125;
    auto scores = torch::randn({2, 2, 3 * t, s}) * 4;  // (B, nkv, g*T, S)
    for (int64_t bb : {1, 2}) {
        for (bool with_bias : {true, false}) {
            auto bias = with_bias ? test_bias(bb, t, s, torch::kFloat32) : torch::Tensor();
            ASSERT_TRUE(scaled_masked_softmax_supports(scores, bias, t));
            auto ref =
                softmax_grads(scores, [&](auto& x) { return unfused_softmax(x, bias, t, scale); });
            for_each_path([&] {
                auto fused = softmax_grads(
                    scores, [&](auto& x) { return scaled_masked_softmax(x, bias, t, scale); });
                EXPECT_LT(max_diff(fused.out, ref.out), 1e-6);
                // d scores = scale p (dp - sum(dp p)): f32 rounding of terms up to scale * 3.
                EXPECT_LT(max_diff(fused.dscores, ref.dscores), 1e-6 * scale * 3);
                EXPECT_GT(max_abs(ref.dscores), 0.1 * scale);
                if (with_bias)  // masked keys get exactly nothing
                    EXPECT_EQ(fused.out.masked_select(ref.out == 0).abs().sum().item<double>(),
                              0.0);
            });
        }
    }
}

TEST(FusedKernels, AttentionSoftmaxInBf16IsTheF32ResultRounded) {
    torch::manual_seed(4);
    const int64_t t = 7, s = 33;
    const double scale = 1.0 / std::sqrt(96.0);
    auto scores = (torch::randn({3, 1, 2 * t, s}) * 6).to(torch::kBFloat16);
    auto bias = test_bias(3, t, s, torch::kBFloat16);
    // Reference: f32 arithmetic on the same bf16 scores (bias as f32).
    auto ref = softmax_grads(scores.to(torch::kFloat32), [&](auto& x) {
        return unfused_softmax(x, bias.to(torch::kFloat32), t, scale);
    });
    for_each_path([&] {
        auto fused = softmax_grads(
            scores, [&](auto& x) { return scaled_masked_softmax(x, bias, t, scale); });
        EXPECT_EQ(fused.out.scalar_type(), torch::kBFloat16);
        EXPECT_EQ(fused.dscores.scalar_type(), torch::kBFloat16);
        // Probabilities are at most 1: one bf16 rounding is at most 2^-9 absolute.
        EXPECT_LE(max_diff(fused.out, ref.out), 1.0 / 512 + 1e-7);
        // Rows still sum to 1 within the roundings.
        auto sums = fused.out.to(torch::kFloat32).sum(-1);
        EXPECT_LT(max_abs(sums - 1), 0.02);
        // The incoming gradient (up to 3) was rounded to bf16 too: a few bf16 roundings of
        // terms up to scale * 3.
        EXPECT_LT(max_diff(fused.dscores, ref.dscores), 0.02 * scale * 3);
        EXPECT_GT(max_abs(ref.dscores), 0.1 * scale);
    });
}

TEST(FusedKernels, AttentionSoftmaxDeclinesWhatItDoesNotTake) {
    auto scores = torch::randn({2, 2, 10, 6});
    EXPECT_FALSE(scaled_masked_softmax_supports(scores, torch::zeros({2, 1, 3, 6}), 3));  // R % T
    EXPECT_FALSE(scaled_masked_softmax_supports(scores, torch::zeros({3, 1, 5, 6}), 5));  // Bb
    EXPECT_FALSE(scaled_masked_softmax_supports(scores, torch::zeros({1, 1, 5, 1}), 5));  // S
    EXPECT_FALSE(scaled_masked_softmax_supports(scores.to(torch::kFloat64), {}, 5));
    EXPECT_FALSE(scaled_masked_softmax_supports(
        scores, torch::zeros({1, 1, 5, 6}).set_requires_grad(true), 5));
    EXPECT_TRUE(scaled_masked_softmax_supports(scores, torch::zeros({2, 1, 5, 6}), 5));
}

// ---- RMSNorm and RoPE ----

torch::Tensor unfused_rms_norm(const torch::Tensor& x, const torch::Tensor& w, double eps) {
    auto xf = x.to(torch::kFloat32);
    return w * (xf * torch::rsqrt(xf.pow(2).mean(-1, true) + eps)).to(x.scalar_type());
}

// Gradient of a weighted sum of f(x) with respect to x, from a fresh leaf.
template <typename F>
std::pair<torch::Tensor, torch::Tensor> value_and_grad(const torch::Tensor& x0, F&& f) {
    auto x = x0.clone().set_requires_grad(true);
    auto out = f(x);
    (out.to(torch::kFloat32) * weights_like(out)).sum().backward();
    return {out.detach(), x.grad()};
}

TEST(FusedKernels, RmsNormMatchesTheUnfusedChain) {
    torch::manual_seed(5);
    const double eps = 1e-6;
    auto x = torch::randn({3, 4, 45}) * 2, w = torch::rand({45}) + 0.5;
    auto [ref, ref_dx] = value_and_grad(x, [&](auto& v) { return unfused_rms_norm(v, w, eps); });
    for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
        const bool bf = dtype == torch::kBFloat16;
        // bf16: inputs rounded first, so the reference (f32 on the rounded inputs) differs
        // only by the kernel's own roundings.
        auto xd = x.to(dtype), wd = w.to(dtype);
        auto [r, rdx] = value_and_grad(xd.to(torch::kFloat32), [&](auto& v) {
            return unfused_rms_norm(v, wd.to(torch::kFloat32), eps);
        });
        for_each_path([&] {
            ASSERT_TRUE(fused_rms_norm_supports(xd, wd));
            auto [y, dx] = value_and_grad(xd, [&](auto& v) { return fused_rms_norm(v, wd, eps); });
            EXPECT_EQ(y.scalar_type(), dtype);
            EXPECT_LT(max_diff(y, r), (bf ? 1.0 / 128 : 1e-5) * max_abs(r));
            EXPECT_LT(max_diff(dx, rdx), (bf ? 1.0 / 64 : 1e-5) * max_abs(rdx));
        });
    }
    EXPECT_GT(max_abs(ref_dx), 0.1);
    EXPECT_FALSE(fused_rms_norm_supports(x, w.clone().set_requires_grad(true)));
    EXPECT_FALSE(fused_rms_norm_supports(x, w.to(torch::kBFloat16)));
}

TEST(FusedKernels, RopeMatchesRopeApplyOnATransposedProjection) {
    torch::manual_seed(6);
    const int64_t b = 2, t = 5, nh = 3, hd = 40;  // half = 20: one full and one partial vector
    auto proj = torch::randn({b, t, nh, hd});     // (B, T, nh, hd) as a projection's view
    auto angles = torch::rand({b, 1, t, hd}) * 6;
    auto cos = angles.cos(), sin = angles.sin();
    for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
        const bool bf = dtype == torch::kBFloat16;
        auto pd = proj.to(dtype), cd = cos.to(dtype), sd = sin.to(dtype);
        auto [r, rdx] = value_and_grad(pd.to(torch::kFloat32), [&](auto& v) {
            return Rope::apply(v.transpose(1, 2), cd.to(torch::kFloat32), sd.to(torch::kFloat32));
        });
        for_each_path([&] {
            auto [y, dx] = value_and_grad(pd, [&](auto& v) {
                auto x = v.transpose(1, 2);  // (B, nh, T, hd), strided
                EXPECT_TRUE(fused_rope_supports(x, cd, sd));
                return fused_rope(x, cd, sd);
            });
            EXPECT_TRUE(y.is_contiguous());
            EXPECT_LT(max_diff(y, r), (bf ? 1.0 / 128 : 1e-6) * max_abs(r));
            EXPECT_LT(max_diff(dx, rdx), (bf ? 1.0 / 64 : 1e-6) * max_abs(rdx));
        });
    }
    EXPECT_FALSE(fused_rope_supports(proj.transpose(1, 2), cos.narrow(3, 0, 20), sin));
}

// ---- the whole bf16 training forward and backward ----

// A LoRA training step's forward and backward through every fused kernel (bf16, gradients on)
// against the same model in f32 (the unfused torch expressions), for each architecture:
// Qwen3's q/k norms, Mistral's sliding window, Qwen2's biases. Logits agree to bf16 accuracy
// and the adapters' gradients point the same way.
TEST(FusedKernels, Bf16TrainingStepTracksF32ForEveryArchitecture) {
    for (auto arch :
         {Architecture::llama, Architecture::mistral, Architecture::qwen2, Architecture::qwen3}) {
        SCOPED_TRACE(architecture_model_type(arch));
        auto c = lora_test::tiny(arch);
        if (arch == Architecture::mistral) c.sliding_window = 5;
        LoraConfig cfg;
        cfg.r = 4;
        cfg.alpha = 8;
        cfg.target_modules = {"all-linear"};
        std::vector<torch::Tensor> logits, grads;
        for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
            auto lm = lora_test::make(c, dtype, 3);
            apply_lora(lm, cfg, 4);
            lora_test::randomize_b(lm);
            lm->train();
            ForwardArgs args;
            args.input_ids =
                torch::cat({lora_test::ids(12), lora_test::ids(12).flip(1)});  // (2, T)
            auto out = lm->forward(args);                                      // (2, T, V) f32
            (out * weights_like(out)).sum().backward();
            logits.push_back(out.detach());
            std::vector<torch::Tensor> g;
            for (const auto& [name, t] : lora_parameters(lm))
                g.push_back(t.grad().reshape({-1}));
            grads.push_back(torch::cat(g).to(torch::kFloat64));
        }
        EXPECT_LT(max_diff(logits[1], logits[0]), 0.03 * max_abs(logits[0]));  // measured 0.7-1%
        const double cosine = (grads[0] * grads[1]).sum().item<double>() /
                              (grads[0].norm().item<double>() * grads[1].norm().item<double>());
        EXPECT_GT(cosine, 0.999);  // measured 0.99984-0.99986
    }
}

}  // namespace
}  // namespace llmtune::model
