// causal_lm_loss and the fused lm_head + cross-entropy against the straightforward reference:
// the full (B, T, V) f32 logits from CausalLM::forward and torch's cross_entropy (sum,
// ignore_index -100), values and gradients of every trainable parameter.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/error.h"
#include "model/lora.h"
#include "model/model_init.h"
#include "train/lm_head_loss_kernels.h"
#include "train/loss.h"

namespace llmtune::train {
namespace {

using model::CausalLM;
namespace F = torch::nn::functional;

CausalLM tiny_model(bool tied, torch::Dtype dtype = torch::kFloat32) {
    model::ModelConfig c = model::preset_config("tiny", model::Architecture::qwen2, 1000);
    c.num_hidden_layers = 2;
    c.tie_word_embeddings = tied;
    CausalLM lm(c, torch::TensorOptions().dtype(dtype));
    model::init_random_weights(lm, 7);
    return lm;
}

// Two right-padded rows; the prompt positions and the padding carry no target.
Batch padded_batch() {
    const int64_t B = 2, T = 10;
    auto ids = torch::randint(0, 1000, {B, T}, torch::kInt64);
    auto targets = torch::full({B, T}, -100, torch::kInt64);
    targets.select(0, 0).slice(0, 3, T - 1).copy_(ids.select(0, 0).slice(0, 4, T));
    targets.select(0, 1).slice(0, 1, 6).copy_(ids.select(0, 1).slice(0, 2, 7));
    ids.select(0, 1).slice(0, 7, T).fill_(0);  // padding
    Batch b;
    b.input_ids = ids;
    b.targets = targets;
    b.position_ids = torch::arange(T).unsqueeze(0).expand({B, T}).contiguous();
    b.target_tokens = (targets != -100).sum().item<int64_t>();
    b.tokens = B * T - 3;
    return b;
}

struct Reference {
    torch::Tensor loss_sum;
    int64_t correct;
};

Reference reference_loss(CausalLM& lm, const Batch& b) {
    model::ForwardArgs a;
    a.input_ids = b.input_ids;
    a.position_ids = b.position_ids;
    a.attention_bias = b.attention_bias;
    auto logits = lm->forward(a);  // (B, T, V) f32
    const int64_t V = logits.size(-1);
    auto flat = logits.reshape({-1, V});
    auto t = b.targets.reshape({-1});
    auto loss = F::cross_entropy(
        flat, t, F::CrossEntropyFuncOptions().ignore_index(-100).reduction(torch::kSum));
    auto mask = t != -100;
    int64_t correct = ((flat.argmax(-1) == t) & mask).sum().item<int64_t>();
    return {loss, correct};
}

std::vector<torch::Tensor> trainable(CausalLM& lm) {
    std::vector<torch::Tensor> out;
    for (auto& p : lm->parameters())
        if (p.requires_grad()) out.push_back(p);
    return out;
}

void expect_close(const torch::Tensor& got, const torch::Tensor& want, double rtol, double atol,
                  const std::string& what) {
    ASSERT_EQ(got.sizes(), want.sizes()) << what;
    auto g = got.to(torch::kFloat64), w = want.to(torch::kFloat64);
    const double err = (g - w).abs().max().item<double>();
    const double scale = w.abs().max().item<double>();
    EXPECT_LE(err, atol + rtol * scale) << what << ": max |diff| " << err << ", max |want| "
                                        << scale;
}

// Values and the gradients of every trainable parameter, ours against the reference.
void check_against_reference(CausalLM& lm, const Batch& b, double rtol, double atol) {
    auto params = trainable(lm);
    ASSERT_FALSE(params.empty());
    auto ours = causal_lm_loss(lm, b);
    auto ref = reference_loss(lm, b);
    EXPECT_EQ(ours.tokens, b.target_tokens);
    EXPECT_EQ(ours.correct.item<int64_t>(), ref.correct);
    EXPECT_EQ(ours.loss_sum.scalar_type(), torch::kFloat32);
    expect_close(ours.loss_sum, ref.loss_sum, rtol, atol, "loss_sum");
    // A scale other than 1 checks that backward multiplies by the incoming gradient.
    auto g_ours = torch::autograd::grad({ours.loss_sum * 0.37}, params);
    auto g_ref = torch::autograd::grad({ref.loss_sum * 0.37}, params);
    ASSERT_EQ(g_ours.size(), g_ref.size());
    for (size_t i = 0; i < params.size(); ++i)
        expect_close(g_ours[i], g_ref[i], rtol, atol, "gradient " + std::to_string(i));
}

TEST(CausalLmLoss, FullFineTuningTiedMatchesFullLogits) {
    torch::manual_seed(1);
    auto lm = tiny_model(/*tied=*/true);
    check_against_reference(lm, padded_batch(), 1e-5, 1e-6);
}

TEST(CausalLmLoss, FullFineTuningUntiedMatchesFullLogits) {
    torch::manual_seed(2);
    auto lm = tiny_model(/*tied=*/false);
    check_against_reference(lm, padded_batch(), 1e-5, 1e-6);
}

TEST(CausalLmLoss, LoraMatchesFullLogits) {
    torch::manual_seed(3);
    auto lm = tiny_model(/*tied=*/true);
    model::LoraConfig lc;
    lc.r = 4;
    lc.target_modules = {"all-linear"};
    model::apply_lora(lm, lc, 5);
    {
        // B = 0 would give A no gradient: move B off zero so both get checked.
        torch::NoGradGuard ng;
        for (auto& [name, t] : model::lora_parameters(lm))
            if (name.find("lora_B") != std::string::npos) t.normal_(0, 0.02);
    }
    check_against_reference(lm, padded_batch(), 1e-5, 1e-6);
}

TEST(CausalLmLoss, PackedRowsWithBiasMatchFullLogits) {
    torch::manual_seed(4);
    auto lm = tiny_model(/*tied=*/true);
    // One row holding two examples of 5 positions: block-diagonal causal bias, positions restart.
    const int64_t T = 10;
    auto ids = torch::randint(0, 1000, {1, T}, torch::kInt64);
    auto targets = torch::full({1, T}, -100, torch::kInt64);
    targets.slice(1, 0, 4).copy_(ids.slice(1, 1, 5));
    targets.slice(1, 5, 9).copy_(ids.slice(1, 6, 10));
    auto pos = torch::cat({torch::arange(5), torch::arange(5)}).unsqueeze(0);
    auto allowed = torch::zeros({T, T}, torch::kBool);
    for (int64_t s : {0, 5})
        allowed.slice(0, s, s + 5).slice(1, s, s + 5).copy_(
            torch::ones({5, 5}, torch::kBool).tril());
    auto bias = torch::where(allowed, torch::zeros({}), torch::full({}, -3.4e38))
                    .view({1, 1, T, T});
    Batch b;
    b.input_ids = ids;
    b.targets = targets;
    b.position_ids = pos;
    b.attention_bias = bias;
    b.target_tokens = 8;
    b.tokens = T;
    check_against_reference(lm, b, 1e-5, 1e-6);
}

TEST(CausalLmLoss, Bf16ModelLossInF32CloseToReference) {
    torch::manual_seed(5);
    auto lm = tiny_model(/*tied=*/false, torch::kBFloat16);
    // Same rounding steps as the reference, so only summation order differs.
    check_against_reference(lm, padded_batch(), 2e-2, 1e-3);
}

TEST(CausalLmLoss, NoGradGivesTheSameLossAndNoGraph) {
    torch::manual_seed(6);
    auto lm = tiny_model(/*tied=*/true);
    auto b = padded_batch();
    auto with_grad = causal_lm_loss(lm, b).loss_sum.item<double>();
    torch::NoGradGuard ng;
    auto ours = causal_lm_loss(lm, b);
    EXPECT_FALSE(ours.loss_sum.requires_grad());
    // Without grad the decoder may take its inference kernels: equal up to f32 rounding.
    EXPECT_NEAR(ours.loss_sum.item<double>(), with_grad, 1e-5 * std::abs(with_grad));
}

TEST(CausalLmLoss, NoTargetsGivesZeroLossAndZeroGradients) {
    auto lm = tiny_model(/*tied=*/true);
    auto b = padded_batch();
    b.targets.fill_(-100);
    b.target_tokens = 0;
    auto ours = causal_lm_loss(lm, b);
    EXPECT_EQ(ours.tokens, 0);
    EXPECT_EQ(ours.loss_sum.item<double>(), 0.0);
    EXPECT_EQ(ours.correct.item<int64_t>(), 0);
    auto params = trainable(lm);
    auto grads = torch::autograd::grad({ours.loss_sum}, params, {}, {}, false, true);
    for (auto& g : grads)
        if (g.defined()) {
            EXPECT_EQ(g.abs().max().item<double>(), 0.0);
        }
}

TEST(CausalLmLoss, WrongTargetCountIsAnInternalError) {
    auto lm = tiny_model(/*tied=*/true);
    auto b = padded_batch();
    b.target_tokens += 1;
    EXPECT_THROW(causal_lm_loss(lm, b), Error);
}

// The kernel alone over many chunks (3 rows each, a ragged last chunk), both gradients.
TEST(LmHeadCrossEntropy, ChunkedEqualsUnchunked) {
    torch::manual_seed(7);
    const int64_t N = 17, H = 24, V = 50;
    auto h = torch::randn({N, H}, torch::kFloat32).requires_grad_();
    auto w = torch::randn({V, H}, torch::kFloat32).requires_grad_();
    auto t = torch::randint(0, V, {N}, torch::kInt64);
    auto ours = lm_head_cross_entropy(h, w, t, /*chunk_rows=*/3);
    auto logits = torch::matmul(h, w.t());
    auto ref = F::cross_entropy(logits, t, F::CrossEntropyFuncOptions().reduction(torch::kSum));
    expect_close(ours.loss_sum, ref, 1e-6, 1e-6, "loss");
    EXPECT_EQ(ours.correct.item<int64_t>(), (logits.argmax(-1) == t).sum().item<int64_t>());
    auto g_ours = torch::autograd::grad({ours.loss_sum * 2.5}, {h, w});
    auto g_ref = torch::autograd::grad({ref * 2.5}, {h, w});
    expect_close(g_ours[0], g_ref[0], 1e-5, 1e-6, "dh");
    expect_close(g_ours[1], g_ref[1], 1e-5, 1e-6, "dw");
}

// The torch-ops path (what a GPU runs, where the row kernel cannot read the logits), taken
// here by f64 tensors: the same loss, count and gradients as the unfused reference.
TEST(LmHeadCrossEntropy, TorchOpsPathEqualsTheReference) {
    torch::manual_seed(9);
    const int64_t N = 11, H = 16, V = 40;
    auto h = torch::randn({N, H}, torch::kFloat64).requires_grad_();
    auto w = torch::randn({V, H}, torch::kFloat64).requires_grad_();
    auto t = torch::randint(0, V, {N}, torch::kInt64);
    auto ours = lm_head_cross_entropy(h, w, t, /*chunk_rows=*/4);
    auto logits = torch::matmul(h, w.t());
    auto ref = F::cross_entropy(logits, t, F::CrossEntropyFuncOptions().reduction(torch::kSum));
    // The summed loss is kept in f32, whatever the model dtype.
    EXPECT_NEAR(ours.loss_sum.item<double>(), ref.item<double>(), 1e-5 * ref.item<double>());
    EXPECT_EQ(ours.correct.item<int64_t>(), (logits.argmax(-1) == t).sum().item<int64_t>());
    auto g_ours = torch::autograd::grad({ours.loss_sum.to(torch::kFloat64) * 1.5}, {h, w});
    auto g_ref = torch::autograd::grad({ref * 1.5}, {h, w});
    expect_close(g_ours[0], g_ref[0], 1e-6, 1e-9, "dh");
    expect_close(g_ours[1], g_ref[1], 1e-6, 1e-9, "dw");
}

// Only one input needs a gradient (a frozen lm_head under LoRA; a frozen trunk).
TEST(LmHeadCrossEntropy, GradientOnlyWhereRequested) {
    torch::manual_seed(8);
    auto h = torch::randn({9, 8}).requires_grad_();
    auto w = torch::randn({20, 8});
    auto t = torch::randint(0, 20, {9}, torch::kInt64);
    auto ours = lm_head_cross_entropy(h, w, t, 4);
    auto ref = F::cross_entropy(torch::matmul(h, w.t()), t,
                                F::CrossEntropyFuncOptions().reduction(torch::kSum));
    auto g = torch::autograd::grad({ours.loss_sum}, {h});
    auto r = torch::autograd::grad({ref}, {h});
    expect_close(g[0], r[0], 1e-5, 1e-6, "dh");
    EXPECT_FALSE(w.grad().defined());
}

}  // namespace
}  // namespace llmtune::train
