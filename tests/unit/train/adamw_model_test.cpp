// AdamW, the schedule and clipping together on a tiny decoder: the no-decay rule on the real
// parameter names, and a few LoRA and full fine-tuning steps that lower the loss.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <set>

#include "model/lora.h"
#include "model/model_init.h"
#include "train/adamw.h"
#include "train/grad_clip.h"
#include "train/lr_schedule.h"

namespace llmtune::train {
namespace {

using model::CausalLM;

CausalLM tiny_model() {
    model::ModelConfig c = model::preset_config("tiny", model::Architecture::qwen2, 1000);
    c.num_hidden_layers = 2;
    CausalLM lm(c, torch::TensorOptions().dtype(torch::kFloat32));
    model::init_random_weights(lm, 1);
    return lm;
}

model::NamedTensors trainable(CausalLM& lm) {
    model::NamedTensors out;
    for (auto& p : lm->named_parameters(true))
        if (p.value().requires_grad()) out.emplace_back(p.key(), p.value());
    return out;
}

torch::Tensor loss_of(CausalLM& lm, const torch::Tensor& ids) {  // ids (1, T)
    model::ForwardArgs a;
    a.input_ids = ids;
    auto logits = lm->forward(a);  // (1, T, V)
    const int64_t T = ids.size(1);
    return torch::nn::functional::cross_entropy(logits.slice(1, 0, T - 1).reshape({T - 1, -1}),
                                                ids.slice(1, 1, T).reshape({T - 1}));
}

torch::Tensor sample_ids() {
    std::vector<int64_t> v;
    for (int64_t i = 0; i < 24; ++i)
        v.push_back((i * 37 + 11) % 1000);
    return torch::tensor(v).unsqueeze(0);
}

// Trains `steps` steps with a linear schedule and clipping; returns the first and last loss.
std::pair<double, double> train(CausalLM& lm, AdamW& opt, int steps) {
    LrScheduleConfig sc;
    sc.warmup_steps = 2;
    LrSchedule schedule(sc, steps);
    std::vector<torch::Tensor> params;
    for (const auto& [name, t] : opt.params())
        params.push_back(t);
    const auto ids = sample_ids();
    double first = 0, last = 0;
    for (int step = 0; step < steps; ++step) {
        opt.zero_grad();
        auto loss = loss_of(lm, ids);
        loss.backward();
        const GradNorm norm = clip_grad_norm(params, 1.0);
        EXPECT_TRUE(norm.finite);
        opt.step(opt.config().lr * schedule.factor(opt.step_count()));
        (step == 0 ? first : last) = loss.item<double>();
    }
    return {first, last};
}

TEST(AdamWModel, NoDecayExactlyOnNormsAndBiases) {
    auto lm = tiny_model();
    std::set<std::string> expected_no_decay, got_no_decay;
    for (const auto& [name, t] : trainable(lm)) {
        // Written out independently: every norm weight and every bias of the Qwen2 layout.
        if (name.find("norm") != std::string::npos || name.find("bias") != std::string::npos)
            expected_no_decay.insert(name);
        if (!applies_weight_decay(name, t)) got_no_decay.insert(name);
    }
    EXPECT_FALSE(expected_no_decay.empty());
    EXPECT_EQ(got_no_decay, expected_no_decay);
    EXPECT_TRUE(got_no_decay.count("model.layers.0.self_attn.q_proj.bias"));
    EXPECT_TRUE(got_no_decay.count("model.norm.weight"));
}

TEST(AdamWModel, FullFineTuningLowersTheLoss) {
    auto lm = tiny_model();
    AdamWConfig cfg;
    cfg.lr = 1e-3;
    cfg.weight_decay = 0.01;
    AdamW opt(trainable(lm), cfg);
    const auto [first, last] = train(lm, opt, 20);
    EXPECT_LT(last, first * 0.7) << first << " -> " << last;
}

TEST(AdamWModel, LoraTrainsOnlyTheAdapters) {
    auto lm = tiny_model();
    model::LoraConfig lc;
    lc.target_modules = {"all-linear"};
    model::apply_lora(lm, lc, 3);
    std::map<std::string, torch::Tensor> frozen_before;
    for (auto& p : lm->named_parameters(true))
        if (!p.value().requires_grad()) frozen_before[p.key()] = p.value().detach().clone();
    AdamWConfig cfg;
    cfg.lr = 1e-2;
    AdamW opt(model::lora_parameters(lm), cfg);
    EXPECT_EQ(opt.params().size(), trainable(lm).size());
    const auto [first, last] = train(lm, opt, 20);
    EXPECT_LT(last, first * 0.8) << first << " -> " << last;
    EXPECT_FALSE(frozen_before.empty());
    for (auto& p : lm->named_parameters(true)) {
        if (!p.value().requires_grad()) {
            EXPECT_TRUE(torch::equal(p.value(), frozen_before.at(p.key()))) << p.key();
        }
    }
}

}  // namespace
}  // namespace llmtune::train
