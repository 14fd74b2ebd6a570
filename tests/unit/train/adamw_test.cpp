// AdamW against libtorch's own torch::optim::AdamW, in f64 and f32, with weight decay and the
// no-decay group; bf16 parameters against an f32 run rounded to bf16 after every step.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <functional>

#include "common/error.h"
#include "train/adamw.h"

namespace llmtune::train {
namespace {

// Parameters shaped like a tiny decoder's: decayed matrices, and 1-D or norm-named tensors
// that must not decay.
model::NamedTensors make_params(torch::Dtype dtype, uint64_t seed) {
    torch::manual_seed(seed);
    auto opts = torch::TensorOptions().dtype(torch::kFloat64);
    model::NamedTensors out = {
        {"model.embed_tokens.weight", torch::randn({7, 5}, opts)},
        {"model.layers.0.self_attn.q_proj.weight", torch::randn({5, 5}, opts)},
        {"model.layers.0.self_attn.q_proj.bias", torch::randn({5}, opts)},
        {"model.layers.0.input_layernorm.weight", torch::randn({5}, opts) + 1},
        {"model.layers.0.mlp.up_proj.lora_A.weight", torch::randn({2, 5}, opts)},
        {"model.norm.weight", torch::randn({5}, opts) + 1},
    };
    for (auto& [name, t] : out)
        t = t.to(dtype).set_requires_grad(true);
    return out;
}

model::NamedTensors clone_params(const model::NamedTensors& params) {
    model::NamedTensors out;
    for (const auto& [name, t] : params)
        out.emplace_back(name, t.detach().clone().set_requires_grad(true));
    return out;
}

// The gradient of every parameter at `step`: random, the same for any copy of the params.
void set_grads(const model::NamedTensors& params, int step, double scale = 1.0) {
    torch::manual_seed(1000 + step);
    for (const auto& [name, p] : params)
        p.mutable_grad() = (torch::randn(p.sizes(), torch::kFloat64) * scale).to(p.scalar_type());
}

double max_rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
    auto a64 = a.detach().to(torch::kFloat64), b64 = b.detach().to(torch::kFloat64);
    return ((a64 - b64).abs() / (b64.abs() + 1e-12)).max().item<double>();
}

// A learning rate that changes every step, as a schedule would.
double lr_at(int step) {
    return 1e-2 * (1.0 + 0.5 * std::sin(step));
}

void compare_with_torch(torch::Dtype dtype, double weight_decay, double tol) {
    AdamWConfig cfg;
    cfg.lr = 1e-2;
    cfg.beta1 = 0.85;
    cfg.beta2 = 0.995;
    cfg.eps = 1e-7;
    cfg.weight_decay = weight_decay;
    auto mine = make_params(dtype, 1);
    auto ref = clone_params(mine);

    // The reference: torch's AdamW with two groups, decayed by hand-written name rule.
    std::vector<torch::Tensor> decay, no_decay;
    for (const auto& [name, t] : ref) {
        const bool excluded = t.dim() <= 1 || name.find("norm.weight") != std::string::npos ||
                              name.find(".bias") != std::string::npos;
        (excluded ? no_decay : decay).push_back(t);
    }
    ASSERT_EQ(decay.size(), 3u);
    ASSERT_EQ(no_decay.size(), 3u);
    auto base = torch::optim::AdamWOptions(cfg.lr)
                    .betas({cfg.beta1, cfg.beta2})
                    .eps(cfg.eps)
                    .weight_decay(weight_decay);
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(base));
    auto nd = base;
    nd.weight_decay(0.0);
    groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(nd));
    torch::optim::AdamW torch_opt(std::move(groups), base);

    AdamW opt(mine, cfg);
    for (int step = 0; step < 50; ++step) {
        set_grads(mine, step);
        set_grads(ref, step);
        for (auto& g : torch_opt.param_groups())
            static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr_at(step));
        torch_opt.step();
        opt.step(lr_at(step));
    }
    EXPECT_EQ(opt.step_count(), 50);
    for (size_t i = 0; i < mine.size(); ++i) {
        EXPECT_EQ(mine[i].second.scalar_type(), dtype);
        EXPECT_LE(max_rel_diff(mine[i].second, ref[i].second), tol) << mine[i].first;
        // The run moved the parameters: a no-op optimizer would not pass.
        EXPECT_GT((ref[i].second - make_params(dtype, 1)[i].second).abs().max().item<double>(),
                  1e-3);
    }
}

TEST(AdamW, MatchesTorchF64WithWeightDecay) {
    compare_with_torch(torch::kFloat64, 0.1, 1e-12);
}
TEST(AdamW, MatchesTorchF32WithWeightDecay) {
    compare_with_torch(torch::kFloat32, 0.1, 1e-6);
}
TEST(AdamW, MatchesTorchF32WithoutWeightDecay) {
    compare_with_torch(torch::kFloat32, 0.0, 1e-6);
}

TEST(AdamW, NoDecayRule) {
    auto m = torch::zeros({3, 3}), v = torch::zeros({3});
    EXPECT_TRUE(applies_weight_decay("model.layers.0.mlp.down_proj.weight", m));
    EXPECT_TRUE(applies_weight_decay("model.embed_tokens.weight", m));
    EXPECT_TRUE(applies_weight_decay("model.layers.0.self_attn.q_proj.lora_B.weight", m));
    EXPECT_FALSE(applies_weight_decay("model.norm.weight", v));
    EXPECT_FALSE(applies_weight_decay("model.layers.0.self_attn.q_norm.weight", v));
    EXPECT_FALSE(applies_weight_decay("model.layers.3.post_attention_layernorm.weight", v));
    EXPECT_FALSE(applies_weight_decay("model.layers.0.self_attn.q_proj.bias", v));
    EXPECT_FALSE(applies_weight_decay("something.weight", v));      // 1-D
    EXPECT_FALSE(applies_weight_decay("odd.layernorm.weight", m));  // by name, even if 2-D
    EXPECT_FALSE(applies_weight_decay("odd.proj.bias", m));
}

TEST(AdamW, SkipsParametersWithoutGradientLikeTorch) {
    AdamWConfig cfg;
    cfg.lr = 1e-2;
    auto mine = make_params(torch::kFloat32, 2);
    auto ref = clone_params(mine);
    auto before = clone_params(mine);
    std::vector<torch::Tensor> ref_list;
    for (const auto& [name, t] : ref)
        ref_list.push_back(t);
    // No weight decay in either, so the grouping does not matter.
    torch::optim::AdamW torch_opt(ref_list, torch::optim::AdamWOptions(cfg.lr).weight_decay(0.0));
    AdamW opt(mine, cfg);
    for (int step = 0; step < 10; ++step) {
        set_grads(mine, step);
        set_grads(ref, step);
        if (step % 3 == 0) {  // the embedding gets no gradient every third step
            mine[0].second.mutable_grad() = torch::Tensor();
            ref[0].second.mutable_grad() = torch::Tensor();
        }
        torch_opt.step();
        opt.step(cfg.lr);
    }
    for (size_t i = 0; i < mine.size(); ++i)
        EXPECT_LE(max_rel_diff(mine[i].second, ref[i].second), 1e-6) << mine[i].first;
    EXPECT_FALSE(torch::equal(mine[0].second, before[0].second));
}

TEST(AdamW, Bf16ParamsEqualF32RunRoundedEveryStep) {
    AdamWConfig cfg;
    cfg.lr = 3e-2;
    cfg.weight_decay = 0.05;
    auto bf = make_params(torch::kBFloat16, 3);
    // The reference: the same values in f32, stepped in f32 and rounded to bf16 after each step.
    model::NamedTensors f32;
    for (const auto& [name, t] : bf)
        f32.emplace_back(name, t.detach().to(torch::kFloat32).set_requires_grad(true));
    AdamW opt_bf(bf, cfg), opt_f32(f32, cfg);
    for (int step = 0; step < 50; ++step) {
        set_grads(bf, step);
        for (size_t i = 0; i < bf.size(); ++i)  // the same (bf16-valued) gradients
            f32[i].second.mutable_grad() = bf[i].second.grad().to(torch::kFloat32);
        opt_bf.step(lr_at(step));
        opt_f32.step(lr_at(step));
        torch::NoGradGuard no_grad;
        for (auto& [name, t] : f32)
            t.copy_(t.to(torch::kBFloat16).to(torch::kFloat32));
    }
    for (size_t i = 0; i < bf.size(); ++i) {
        ASSERT_EQ(bf[i].second.scalar_type(), torch::kBFloat16);
        EXPECT_TRUE(torch::equal(bf[i].second.to(torch::kFloat32), f32[i].second)) << bf[i].first;
    }
    // The moments stayed f32 (a bf16 state would have lost the small second moments).
    for (const auto& [name, t] : opt_bf.state_dict()) {
        if (name.rfind("exp_avg", 0) == 0) {
            EXPECT_EQ(t.scalar_type(), torch::kFloat32) << name;
        }
    }
    // And equal the f32 run's moments bit for bit.
    auto sa = opt_bf.state_dict(), sb = opt_f32.state_dict();
    ASSERT_EQ(sa.size(), sb.size());
    for (size_t i = 0; i < sa.size(); ++i)
        EXPECT_TRUE(torch::equal(sa[i].second, sb[i].second)) << sa[i].first;
}

TEST(AdamW, Bf16ParamsCloseToTorchF32RunRounded) {
    // Independent of our own f32 path: torch's AdamW in f32, rounded to bf16 every step.
    AdamWConfig cfg;
    cfg.lr = 3e-2;
    auto bf = make_params(torch::kBFloat16, 4);
    model::NamedTensors f32;
    std::vector<torch::Tensor> list;
    for (const auto& [name, t] : bf) {
        f32.emplace_back(name, t.detach().to(torch::kFloat32).set_requires_grad(true));
        list.push_back(f32.back().second);
    }
    torch::optim::AdamW torch_opt(list, torch::optim::AdamWOptions(cfg.lr).weight_decay(0.0));
    AdamW opt(bf, cfg);
    for (int step = 0; step < 50; ++step) {
        set_grads(bf, step);
        for (size_t i = 0; i < bf.size(); ++i)
            f32[i].second.mutable_grad() = bf[i].second.grad().to(torch::kFloat32);
        opt.step(cfg.lr);
        torch_opt.step();
        torch::NoGradGuard no_grad;
        for (auto& t : list)
            t.copy_(t.to(torch::kBFloat16).to(torch::kFloat32));
    }
    for (size_t i = 0; i < bf.size(); ++i)  // within one bf16 rounding step (2^-8 relative)
        EXPECT_LE(max_rel_diff(bf[i].second, f32[i].second), 1.0 / 256) << bf[i].first;
}

TEST(AdamW, ZeroGradClearsGradients) {
    auto p = make_params(torch::kFloat32, 5);
    AdamW opt(p, AdamWConfig{});
    set_grads(p, 0);
    opt.zero_grad();
    for (const auto& [name, t] : p)
        EXPECT_FALSE(t.grad().defined()) << name;
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
        return e.message();
    }
    ADD_FAILURE() << "no error";
    return "";
}

TEST(AdamW, InvalidConfigNamesTheField) {
    auto p = make_params(torch::kFloat32, 6);
    auto with = [&](std::function<void(AdamWConfig&)> edit) {
        AdamWConfig c;
        edit(c);
        return error_of([&] { AdamW(p, c); });
    };
    EXPECT_NE(with([](AdamWConfig& c) { c.lr = 0; }).find("lr must be"), std::string::npos);
    EXPECT_NE(with([](AdamWConfig& c) { c.lr = NAN; }).find("lr must be"), std::string::npos);
    EXPECT_NE(with([](AdamWConfig& c) { c.beta1 = 1.0; }).find("beta1"), std::string::npos);
    EXPECT_NE(with([](AdamWConfig& c) { c.beta2 = -0.1; }).find("beta2"), std::string::npos);
    EXPECT_NE(with([](AdamWConfig& c) { c.eps = 0; }).find("eps"), std::string::npos);
    EXPECT_NE(with([](AdamWConfig& c) { c.weight_decay = -1; }).find("weight_decay"),
              std::string::npos);
    // Several bad fields are all named in one error.
    auto all = with([](AdamWConfig& c) {
        c.lr = -1;
        c.eps = -1;
    });
    EXPECT_NE(all.find("lr must be"), std::string::npos);
    EXPECT_NE(all.find("eps must be"), std::string::npos);
    EXPECT_NO_THROW(AdamW(p, AdamWConfig{}));  // the defaults are valid
}

TEST(AdamW, InvalidParameters) {
    EXPECT_NE(error_of([] { AdamW({}, AdamWConfig{}); }).find("no parameters"), std::string::npos);
    auto t = torch::zeros({2, 2}, torch::requires_grad());
    EXPECT_NE(error_of([&] {
                  AdamW({{"a", t}, {"a", t}}, AdamWConfig{});
              }).find("twice"),
              std::string::npos);
    EXPECT_NE(error_of([&] {
                  AdamW({{"ids", torch::zeros({2}, torch::kInt64)}}, AdamWConfig{});
              }).find("not floating point"),
              std::string::npos);
}

}  // namespace
}  // namespace llmtune::train
