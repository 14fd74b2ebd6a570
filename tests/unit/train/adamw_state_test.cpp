// AdamW state: save at step 20 through a safetensors file, reload into a fresh optimizer and
// continue: bit-identical to the uninterrupted run. Loading reports every mismatch at once.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/error.h"
#include "model/safetensors.h"
#include "support/test_support.h"
#include "train/adamw.h"

namespace llmtune::train {
namespace {

model::NamedTensors fresh_params(torch::Dtype dtype) {
    torch::manual_seed(7);
    model::NamedTensors out = {
        {"w1", torch::randn({6, 4})},
        {"w1.bias", torch::randn({6})},
        {"model.norm.weight", torch::randn({4}) + 1},
        {"lora_A.weight", torch::randn({2, 4})},
    };
    for (auto& [name, t] : out)
        t = t.to(dtype).set_requires_grad(true);
    return out;
}

void set_grads(const model::NamedTensors& params, int step) {
    torch::manual_seed(500 + step);
    for (const auto& [name, p] : params)
        p.mutable_grad() = torch::randn(p.sizes()).to(p.scalar_type());
}

double lr_at(int step) {
    return 1e-2 / (1 + step);
}

void run(AdamW& opt, const model::NamedTensors& params, int from, int to) {
    for (int step = from; step < to; ++step) {
        set_grads(params, step);
        // One parameter misses its gradient now and then, so per-parameter steps differ.
        if (step % 7 == 3) params[3].second.mutable_grad() = torch::Tensor();
        opt.step(lr_at(step));
    }
}

model::NamedTensors read_back(const std::string& path) {
    auto file = model::SafetensorsFile::open(path);
    model::NamedTensors out;
    for (const auto& info : file->header().tensors)
        out.emplace_back(info.name, file->tensor(info.name).clone());
    return out;
}

void resume_is_bit_identical(torch::Dtype dtype) {
    AdamWConfig cfg;
    cfg.lr = 1e-2;
    cfg.weight_decay = 0.1;
    test::TempDir dir;

    auto straight = fresh_params(dtype);
    AdamW a(straight, cfg);
    run(a, straight, 0, 40);

    auto first = fresh_params(dtype);
    AdamW b(first, cfg);
    run(b, first, 0, 20);
    model::write_safetensors(dir.file("optimizer.safetensors"), b.state_dict());
    model::NamedTensors saved_params;
    for (const auto& [name, t] : first)
        saved_params.emplace_back(name, t.detach().clone());
    model::write_safetensors(dir.file("params.safetensors"), saved_params);

    // A new process, in effect: fresh tensors with different contents, then the checkpoint.
    auto resumed = fresh_params(dtype);
    {
        torch::NoGradGuard no_grad;
        auto loaded = read_back(dir.file("params.safetensors"));
        for (size_t i = 0; i < resumed.size(); ++i)
            resumed[i].second.copy_(loaded[i].second);
    }
    AdamW c(resumed, cfg);
    c.load_state_dict(read_back(dir.file("optimizer.safetensors")));
    EXPECT_EQ(c.step_count(), 20);
    run(c, resumed, 20, 40);

    EXPECT_EQ(c.step_count(), a.step_count());
    for (size_t i = 0; i < straight.size(); ++i)
        EXPECT_TRUE(torch::equal(straight[i].second, resumed[i].second)) << straight[i].first;
    auto sa = a.state_dict(), sc = c.state_dict();
    ASSERT_EQ(sa.size(), sc.size());
    for (size_t i = 0; i < sa.size(); ++i) {
        EXPECT_EQ(sa[i].first, sc[i].first);
        EXPECT_TRUE(torch::equal(sa[i].second, sc[i].second)) << sa[i].first;
    }

    // Without the optimizer state the continuation differs: the test can tell.
    auto no_state = fresh_params(dtype);
    {
        torch::NoGradGuard no_grad;
        auto loaded = read_back(dir.file("params.safetensors"));
        for (size_t i = 0; i < no_state.size(); ++i)
            no_state[i].second.copy_(loaded[i].second);
    }
    AdamW d(no_state, cfg);
    run(d, no_state, 20, 40);
    EXPECT_FALSE(torch::equal(straight[0].second, no_state[0].second));
}

TEST(AdamWState, ResumeAtStep20IsBitIdenticalF32) {
    resume_is_bit_identical(torch::kFloat32);
}
TEST(AdamWState, ResumeAtStep20IsBitIdenticalBf16) {
    resume_is_bit_identical(torch::kBFloat16);
}

TEST(AdamWState, StateDictLayout) {
    auto p = fresh_params(torch::kBFloat16);
    AdamW opt(p, AdamWConfig{});
    run(opt, p, 0, 4);  // lora_A misses step 3
    std::map<std::string, torch::Tensor> s;
    for (const auto& [name, t] : opt.state_dict())
        s[name] = t;
    EXPECT_EQ(s.size(), 1 + 3 * p.size());
    EXPECT_EQ(s.at("step").item<int64_t>(), 4);
    EXPECT_EQ(s.at("step.w1").item<int64_t>(), 4);
    EXPECT_EQ(s.at("step.lora_A.weight").item<int64_t>(), 3);
    EXPECT_EQ(s.at("exp_avg.w1").sizes(), torch::IntArrayRef({6, 4}));
    EXPECT_EQ(s.at("exp_avg_sq.model.norm.weight").scalar_type(), torch::kFloat32);
}

std::string load_error(AdamW& opt, const model::NamedTensors& state) {
    try {
        opt.load_state_dict(state);
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
        return e.message();
    }
    ADD_FAILURE() << "no error";
    return "";
}

TEST(AdamWState, LoadReportsEveryProblemAndChangesNothing) {
    auto p = fresh_params(torch::kFloat32);
    AdamW opt(p, AdamWConfig{});
    run(opt, p, 0, 3);
    auto good = opt.state_dict();

    model::NamedTensors bad;
    for (const auto& [name, t] : good) {
        if (name == "exp_avg.w1") continue;  // missing
        if (name == "exp_avg_sq.w1.bias")
            bad.emplace_back(name, torch::zeros({5}));  // shape
        else if (name == "exp_avg.lora_A.weight")
            bad.emplace_back(name, t.to(torch::kBFloat16));  // dtype
        else
            bad.emplace_back(name, t);
    }
    bad.emplace_back("exp_avg.extra", torch::zeros({1}));  // unexpected

    AdamW other(fresh_params(torch::kFloat32), AdamWConfig{});
    const auto before = other.state_dict();
    const std::string msg = load_error(other, bad);
    EXPECT_NE(msg.find("'exp_avg.w1' is missing"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'exp_avg_sq.w1.bias' has shape [5]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'exp_avg.lora_A.weight' is BFloat16"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'exp_avg.extra' is not a state"), std::string::npos) << msg;
    EXPECT_NE(msg.find("4 problems"), std::string::npos) << msg;
    // Nothing was loaded.
    EXPECT_EQ(other.step_count(), 0);
    const auto after = other.state_dict();
    for (size_t i = 0; i < before.size(); ++i)
        EXPECT_TRUE(torch::equal(before[i].second, after[i].second)) << before[i].first;

    // A parameter step beyond the optimizer step is inconsistent.
    model::NamedTensors ahead = good;
    for (auto& [name, t] : ahead)
        if (name == "step.w1") t = torch::full({1}, int64_t{99});
    EXPECT_NE(load_error(other, ahead).find("exceeds the optimizer step"), std::string::npos);

    EXPECT_NO_THROW(other.load_state_dict(good));
    EXPECT_EQ(other.step_count(), 3);
}

}  // namespace
}  // namespace llmtune::train
