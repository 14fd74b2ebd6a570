// Gradient clipping against torch::nn::utils::clip_grad_norm_.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "common/error.h"
#include "train/grad_clip.h"

namespace llmtune::train {
namespace {

std::vector<torch::Tensor> make_params(torch::Dtype dtype, double grad_scale, uint64_t seed) {
    torch::manual_seed(seed);
    std::vector<torch::Tensor> out;
    for (auto shape : {std::vector<int64_t>{8, 3}, {5}, {2, 2, 2}}) {
        auto p = torch::randn(shape).to(dtype).set_requires_grad(true);
        p.mutable_grad() = (torch::randn(shape) * grad_scale).to(dtype);
        out.push_back(p);
    }
    // A parameter without a gradient is skipped by both.
    out.push_back(torch::randn({3}).to(dtype).set_requires_grad(true));
    return out;
}

std::vector<torch::Tensor> clone_with_grads(const std::vector<torch::Tensor>& params) {
    std::vector<torch::Tensor> out;
    for (const auto& p : params) {
        auto q = p.detach().clone().set_requires_grad(true);
        if (p.grad().defined()) q.mutable_grad() = p.grad().clone();
        out.push_back(q);
    }
    return out;
}

void compare(torch::Dtype dtype, double grad_scale, double max_norm) {
    auto mine = make_params(dtype, grad_scale, 11);
    auto ref = clone_with_grads(mine);
    const double ref_norm = torch::nn::utils::clip_grad_norm_(ref, max_norm);
    const GradNorm got = clip_grad_norm(mine, max_norm);
    EXPECT_TRUE(got.finite);
    EXPECT_NEAR(got.norm, ref_norm, 1e-6 * ref_norm);
    EXPECT_EQ(got.clipped, ref_norm > max_norm);
    for (size_t i = 0; i < mine.size(); ++i) {
        ASSERT_EQ(mine[i].grad().defined(), ref[i].grad().defined());
        if (!mine[i].grad().defined()) continue;
        EXPECT_TRUE(torch::allclose(mine[i].grad(), ref[i].grad(), 1e-6, 1e-9)) << i;
    }
}

TEST(GradClip, ClipsLikeTorchF32) {
    compare(torch::kFloat32, 3.0, 1.0);
}
TEST(GradClip, ClipsLikeTorchF64) {
    compare(torch::kFloat64, 3.0, 0.5);
}
TEST(GradClip, BelowMaxNormLeavesGradsLikeTorch) {
    compare(torch::kFloat32, 0.01, 1.0);
}

TEST(GradClip, NormMatchesHandComputedTotal) {
    auto p = make_params(torch::kFloat32, 2.0, 12);
    double sum_sq = 0;
    for (const auto& t : p)
        if (t.grad().defined()) sum_sq += t.grad().to(torch::kFloat64).pow(2).sum().item<double>();
    const GradNorm n = grad_norm(p);
    EXPECT_NEAR(n.norm, std::sqrt(sum_sq), 1e-6 * std::sqrt(sum_sq));
    // After clipping to half the norm, the new norm is half.
    const GradNorm c = clip_grad_norm(p, n.norm / 2);
    EXPECT_TRUE(c.clipped);
    EXPECT_NEAR(grad_norm(p).norm, n.norm / 2, 1e-5 * n.norm);
}

TEST(GradClip, Bf16NormIsComputedInF32) {
    // Many bf16 values: a bf16 accumulation would be visibly off, f32 is not.
    auto p = torch::zeros({100000}, torch::kBFloat16).set_requires_grad(true);
    torch::manual_seed(13);
    p.mutable_grad() = torch::rand({100000}).to(torch::kBFloat16);
    const double expected = p.grad().to(torch::kFloat64).norm().item<double>();
    const GradNorm got = grad_norm({p});
    EXPECT_NEAR(got.norm, expected, 1e-5 * expected);
    const GradNorm clipped = clip_grad_norm({p}, 1.0);
    EXPECT_TRUE(clipped.clipped);
    EXPECT_EQ(p.grad().scalar_type(), torch::kBFloat16);
    EXPECT_NEAR(grad_norm({p}).norm, 1.0, 1e-2);  // bf16 rounding of the scaled values
}

TEST(GradClip, NonFiniteIsFlaggedAndGradsUntouched) {
    for (double bad : {NAN, INFINITY}) {
        auto p = make_params(torch::kFloat32, 3.0, 14);
        p[1].mutable_grad()[2] = bad;
        auto before = clone_with_grads(p);
        const GradNorm got = clip_grad_norm(p, 1.0);
        EXPECT_FALSE(got.finite);
        EXPECT_FALSE(got.clipped);
        EXPECT_FALSE(std::isfinite(got.norm));
        for (size_t i = 0; i < 3; ++i)
            EXPECT_TRUE(torch::equal(p[i].grad().nan_to_num(0), before[i].grad().nan_to_num(0)))
                << i;
    }
}

TEST(GradClip, NoGradientsGivesZero) {
    auto p = torch::zeros({3}, torch::requires_grad());
    const GradNorm got = clip_grad_norm({p}, 1.0);
    EXPECT_EQ(got.norm, 0.0);
    EXPECT_TRUE(got.finite);
    EXPECT_FALSE(got.clipped);
}

TEST(GradClip, InvalidMaxNormNamesTheField) {
    auto p = make_params(torch::kFloat32, 1.0, 15);
    for (double bad : {0.0, -1.0, static_cast<double>(NAN), static_cast<double>(INFINITY)}) {
        try {
            (void)clip_grad_norm(p, bad);
            ADD_FAILURE() << "no error for " << bad;
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
            EXPECT_NE(e.message().find("max_grad_norm"), std::string::npos);
        }
    }
}

}  // namespace
}  // namespace llmtune::train
