// Gradient checkpointing (model/layer_checkpoint.h): the gradients of a step with it equal
// the gradients without it, for full fine-tuning and LoRA (with dropout, whose draws must be
// replayed), and the recorded graph is really smaller.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <unordered_set>

#include "model/lora.h"
#include "model/model_init.h"
#include "train/loss.h"

namespace llmtune::train {
namespace {

using model::CausalLM;

CausalLM tiny_model(torch::Dtype dtype = torch::kFloat32) {
    model::ModelConfig c = model::preset_config("tiny", model::Architecture::qwen3, 1000);
    c.num_hidden_layers = 3;
    CausalLM lm(c, torch::TensorOptions().dtype(dtype));
    model::init_random_weights(lm, 11);
    return lm;
}

void add_lora(CausalLM& lm, double dropout) {
    model::LoraConfig lc;
    lc.r = 4;
    lc.dropout = dropout;
    lc.target_modules = {"all-linear"};
    model::apply_lora(lm, lc, 3);
    torch::NoGradGuard ng;  // B = 0 would leave A without gradient
    for (auto& [name, t] : model::lora_parameters(lm))
        if (name.find("lora_B") != std::string::npos) t.normal_(0, 0.05);
}

Batch batch() {
    torch::manual_seed(21);
    const int64_t B = 2, T = 12;
    auto ids = torch::randint(0, 1000, {B, T}, torch::kInt64);
    auto targets = torch::full({B, T}, -100, torch::kInt64);
    targets.slice(1, 2, T - 1).copy_(ids.slice(1, 3, T));
    Batch b;
    b.input_ids = ids;
    b.targets = targets;
    b.position_ids = torch::arange(T).unsqueeze(0).expand({B, T}).contiguous();
    b.target_tokens = B * (T - 3);
    b.tokens = B * T;
    return b;
}

struct StepResult {
    double loss;
    std::vector<torch::Tensor> grads;
    double next_random;  // a draw after the step: the generator state it left behind
};

StepResult step(CausalLM& lm, bool checkpointing) {
    lm->set_gradient_checkpointing(checkpointing);
    lm->train();
    auto b = batch();
    torch::manual_seed(5);  // the dropout draws start from the same state in both runs
    std::vector<torch::Tensor> params;
    for (auto& p : lm->parameters())
        if (p.requires_grad()) params.push_back(p);
    auto sums = causal_lm_loss(lm, b);
    auto grads = torch::autograd::grad({sums.loss_sum}, params);
    return {sums.loss_sum.item<double>(), grads, torch::rand({1}).item<double>()};
}

void expect_same_step(CausalLM& lm, double rtol) {
    auto plain = step(lm, false);
    auto ckpt = step(lm, true);
    EXPECT_EQ(plain.loss, ckpt.loss);
    EXPECT_EQ(plain.next_random, ckpt.next_random);
    ASSERT_EQ(plain.grads.size(), ckpt.grads.size());
    for (size_t i = 0; i < plain.grads.size(); ++i) {
        auto a = plain.grads[i].to(torch::kFloat64), b = ckpt.grads[i].to(torch::kFloat64);
        const double err = (a - b).abs().max().item<double>();
        const double scale = a.abs().max().item<double>();
        EXPECT_GT(scale, 0.0) << "parameter " << i << " got no gradient";
        EXPECT_LE(err, rtol * scale) << "parameter " << i;
    }
}

TEST(GradientCheckpointing, FullFineTuningGradientsEqual) {
    auto lm = tiny_model();
    expect_same_step(lm, 1e-6);
}

TEST(GradientCheckpointing, LoraWithDropoutGradientsEqual) {
    auto lm = tiny_model();
    add_lora(lm, 0.1);
    expect_same_step(lm, 1e-6);
}

TEST(GradientCheckpointing, DropoutReallyDrawsInTheCheckpointedForward) {
    // Two different dropout seeds must change the loss: otherwise the test above would pass
    // with dropout silently off in the checkpointed forward.
    auto lm = tiny_model();
    add_lora(lm, 0.5);
    lm->set_gradient_checkpointing(true);
    lm->train();
    auto b = batch();
    torch::manual_seed(1);
    auto l1 = causal_lm_loss(lm, b).loss_sum.item<double>();
    torch::manual_seed(2);
    auto l2 = causal_lm_loss(lm, b).loss_sum.item<double>();
    EXPECT_NE(l1, l2);
}

TEST(GradientCheckpointing, Bf16BaseWithF32LoraGradientsEqual) {
    auto lm = tiny_model(torch::kBFloat16);
    add_lora(lm, 0.0);
    expect_same_step(lm, 1e-6);
}

// Nodes of the autograd graph reachable from `t`.
size_t graph_size(const torch::Tensor& t) {
    std::unordered_set<torch::autograd::Node*> seen;
    std::vector<torch::autograd::Node*> stack{t.grad_fn().get()};
    while (!stack.empty()) {
        auto* n = stack.back();
        stack.pop_back();
        if (!n || !seen.insert(n).second) continue;
        for (const auto& e : n->next_edges())
            stack.push_back(e.function.get());
    }
    return seen.size();
}

TEST(GradientCheckpointing, RecordsOneNodePerLayer) {
    auto lm = tiny_model();
    lm->train();
    auto b = batch();
    lm->set_gradient_checkpointing(false);
    const size_t plain = graph_size(causal_lm_loss(lm, b).loss_sum);
    lm->set_gradient_checkpointing(true);
    const size_t ckpt = graph_size(causal_lm_loss(lm, b).loss_sum);
    // Each layer records dozens of nodes (and one parameter leaf each) without checkpointing;
    // with it, one node plus the parameter leaves.
    EXPECT_LT(ckpt, plain / 2) << "plain " << plain << ", checkpointed " << ckpt;
}

TEST(GradientCheckpointing, EvalModeAndNoGradAreUnaffected) {
    auto lm = tiny_model();
    auto b = batch();
    lm->eval();
    lm->set_gradient_checkpointing(false);
    auto plain = causal_lm_loss(lm, b).loss_sum;
    lm->set_gradient_checkpointing(true);
    auto ckpt = causal_lm_loss(lm, b).loss_sum;
    EXPECT_EQ(plain.item<double>(), ckpt.item<double>());
    EXPECT_EQ(graph_size(plain), graph_size(ckpt));  // eval: not checkpointed
    EXPECT_TRUE(lm->gradient_checkpointing());
}

}  // namespace
}  // namespace llmtune::train
