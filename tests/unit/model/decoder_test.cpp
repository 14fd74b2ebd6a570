// The decoder against itself (KV cache vs full forward) and against a naive reference
// written independently here from the published formulas.
//
// Legend: T positions, H hidden, nh heads, nkv kv heads, hd head_dim, V vocab.
#include "model/decoder.h"

#include <gtest/gtest.h>

#include <cmath>

#include "model/model_init.h"

using namespace llmtune::model;

namespace {

ModelConfig tiny(Architecture arch) {
    ModelConfig c = preset_config("tiny", arch, 1000);
    c.num_hidden_layers = 2;  // keep the tests fast
    if (arch == Architecture::mistral) c.sliding_window = 5;
    if (arch == Architecture::qwen3) c.head_dim = 48;  // decoupled from hidden / heads
    return c;
}

CausalLM make(const ModelConfig& c, torch::Dtype dtype = torch::kFloat32, uint64_t seed = 1) {
    CausalLM lm(c, torch::TensorOptions().dtype(dtype));
    init_random_weights(lm, seed);
    torch::manual_seed(seed);
    // Random norms and biases too, so that every parameter matters.
    torch::NoGradGuard g;
    for (auto& p : lm->named_parameters(true))
        if (p.key().find("norm") != std::string::npos || p.key().find("bias") != std::string::npos)
            p.value().copy_(1 + 0.1 * torch::randn_like(p.value(), torch::kFloat32).to(dtype));
    return lm;
}

// Straight from the papers and transformers' docs: per-head loops, RoPE on (i, i + hd/2)
// pairs, an explicit causal (and sliding-window) loop mask.
torch::Tensor reference_logits(CausalLM& lm, const std::vector<int64_t>& ids) {
    const ModelConfig& c = lm->config();
    const int64_t T = static_cast<int64_t>(ids.size()), hd = c.head_dim, half = hd / 2;
    auto p = lm->named_parameters(true);
    auto W = [&](const std::string& n) { return p[n].to(torch::kFloat64); };
    auto rms = [&](torch::Tensor x, torch::Tensor w) {
        return x / torch::sqrt(x.pow(2).mean(-1, true) + c.rms_norm_eps) * w;
    };
    Rope rope(c);
    auto inv = rope.inv_freq(T).to(torch::kFloat64);  // (hd/2,)
    auto rotate = [&](torch::Tensor x /* (T, hd) */) {
        auto out = x.clone();
        for (int64_t t = 0; t < T; ++t)
            for (int64_t i = 0; i < half; ++i) {
                double a = t * inv[i].item<double>();
                double x1 = x[t][i].item<double>(), x2 = x[t][i + half].item<double>();
                out[t][i] = x1 * std::cos(a) - x2 * std::sin(a);
                out[t][i + half] = x2 * std::cos(a) + x1 * std::sin(a);
            }
        return out;
    };
    auto x = W("model.embed_tokens.weight").index({torch::tensor(ids)});  // (T, H)
    for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
        const std::string pre = "model.layers." + std::to_string(l) + ".";
        auto h = rms(x, W(pre + "input_layernorm.weight"));
        auto proj = [&](const std::string& n) {
            auto y = torch::matmul(h, W(pre + "self_attn." + n + ".weight").t());
            if (p.contains(pre + "self_attn." + n + ".bias"))
                y = y + W(pre + "self_attn." + n + ".bias");
            return y;
        };
        auto q = proj("q_proj"), k = proj("k_proj"), v = proj("v_proj");
        std::vector<torch::Tensor> heads;
        for (int64_t head = 0; head < c.num_attention_heads; ++head) {
            int64_t kvh = head / (c.num_attention_heads / c.num_key_value_heads);
            auto qh = q.narrow(1, head * hd, hd), kh = k.narrow(1, kvh * hd, hd),
                 vh = v.narrow(1, kvh * hd, hd);
            if (c.qk_norm) {
                qh = rms(qh, W(pre + "self_attn.q_norm.weight"));
                kh = rms(kh, W(pre + "self_attn.k_norm.weight"));
            }
            qh = rotate(qh);
            kh = rotate(kh);
            auto s = torch::matmul(qh, kh.t()) / std::sqrt(static_cast<double>(hd));  // (T, T)
            for (int64_t i = 0; i < T; ++i)
                for (int64_t j = 0; j < T; ++j)
                    if (j > i || (c.sliding_window > 0 && i - j >= c.sliding_window))
                        s[i][j] = -INFINITY;
            heads.push_back(torch::matmul(torch::softmax(s, -1), vh));
        }
        auto attn = torch::matmul(torch::cat(heads, 1), W(pre + "self_attn.o_proj.weight").t());
        if (p.contains(pre + "self_attn.o_proj.bias"))
            attn = attn + W(pre + "self_attn.o_proj.bias");
        x = x + attn;
        auto m = rms(x, W(pre + "post_attention_layernorm.weight"));
        auto g = torch::matmul(m, W(pre + "mlp.gate_proj.weight").t());
        auto u = torch::matmul(m, W(pre + "mlp.up_proj.weight").t());
        x = x + torch::matmul(g * torch::sigmoid(g) * u, W(pre + "mlp.down_proj.weight").t());
    }
    x = rms(x, W("model.norm.weight"));
    auto head = c.tie_word_embeddings ? W("model.embed_tokens.weight") : W("lm_head.weight");
    return torch::matmul(x, head.t());  // (T, V)
}

std::vector<int64_t> some_ids(int64_t n) {
    std::vector<int64_t> ids;
    for (int64_t i = 0; i < n; ++i)
        ids.push_back((i * 37 + 11) % 1000);
    return ids;
}

class DecoderTest : public ::testing::TestWithParam<Architecture> {};

}  // namespace

TEST_P(DecoderTest, MatchesTheNaiveReference) {
    auto lm = make(tiny(GetParam()));
    auto ids = some_ids(9);
    torch::NoGradGuard g;
    auto ours = lm->forward({torch::tensor(ids).unsqueeze(0)})[0].to(torch::kFloat64);
    auto ref = reference_logits(lm, ids);
    EXPECT_LT((ours - ref).abs().max().item<double>(), 1e-4);
}

TEST_P(DecoderTest, AutogradPathMatchesTheNaiveReference) {
    // With gradients on, the fused inference kernels step aside for plain torch ops.
    auto lm = make(tiny(GetParam()));
    auto ids = some_ids(7);
    auto ours = lm->forward({torch::tensor(ids).unsqueeze(0)})[0];
    ASSERT_TRUE(ours.requires_grad());
    torch::NoGradGuard g;
    EXPECT_LT((ours.to(torch::kFloat64) - reference_logits(lm, ids)).abs().max().item<double>(),
              1e-4);
}

TEST_P(DecoderTest, KVCacheDecodingMatchesFullForward) {
    auto lm = make(tiny(GetParam()));
    auto ids = some_ids(12);
    torch::NoGradGuard g;
    auto full = lm->forward({torch::tensor(ids).unsqueeze(0)})[0];  // (T, V)
    KVCache cache(lm->config(), 1, 16, lm->options());
    std::vector<torch::Tensor> steps;
    // A 5-token prefill, then one token at a time.
    steps.push_back(
        lm->forward({torch::tensor(std::vector<int64_t>(ids.begin(), ids.begin() + 5)).unsqueeze(0),
                     {},
                     {},
                     &cache})[0]);
    for (size_t i = 5; i < ids.size(); ++i)
        steps.push_back(lm->forward({torch::tensor({ids[i]}).view({1, 1}), {}, {}, &cache})[0]);
    auto incremental = torch::cat(steps, 0);
    EXPECT_EQ(cache.length(), 12);
    EXPECT_LE((incremental - full).abs().max().item<float>(), 1e-5);
}

TEST_P(DecoderTest, Bf16StaysCloseToF32) {
    auto c = tiny(GetParam());
    auto f32 = make(c, torch::kFloat32, 3);
    auto bf16 = make(c, torch::kBFloat16, 3);
    auto ids = torch::tensor(some_ids(8)).unsqueeze(0);
    torch::NoGradGuard g;
    auto a = f32->forward({ids}), b = bf16->forward({ids});
    auto rel = (a - b).abs().max().item<float>() / a.abs().max().item<float>();
    EXPECT_LT(rel, 0.1);
}

INSTANTIATE_TEST_SUITE_P(Architectures, DecoderTest,
                         ::testing::Values(Architecture::llama, Architecture::mistral,
                                           Architecture::qwen2, Architecture::qwen3),
                         [](const auto& info) {
                             return std::string(architecture_model_type(info.param));
                         });

TEST(Rope, Llama3ScalingKeepsHighFrequenciesAndSlowsLowOnes) {
    ModelConfig c = tiny(Architecture::llama);
    c.head_dim = 64;
    Rope plain(c);
    c.rope_scaling = {"llama3", 8.0, 1.0, 4.0, 64};
    Rope scaled(c);
    auto a = plain.inv_freq(1), b = scaled.inv_freq(1);
    for (int64_t i = 0; i < a.size(0); ++i) {
        double wavelen = 2 * M_PI / a[i].item<double>();
        if (wavelen < 64.0 / 4) EXPECT_FLOAT_EQ(b[i].item<float>(), a[i].item<float>());
        if (wavelen > 64.0 / 1) EXPECT_FLOAT_EQ(b[i].item<float>(), a[i].item<float>() / 8);
    }
}

TEST(Rope, LinearAndDynamicScaling) {
    ModelConfig c = tiny(Architecture::llama);
    Rope plain(c);
    c.rope_scaling = {"linear", 4.0};
    EXPECT_TRUE(torch::allclose(Rope(c).inv_freq(10), plain.inv_freq(10) / 4));
    c.rope_scaling = {"dynamic", 2.0};
    c.max_position_embeddings = 100;
    Rope dyn(c);
    EXPECT_TRUE(torch::equal(dyn.inv_freq(100), plain.inv_freq(100)));  // within context: unchanged
    // Beyond it the base grows, so every non-constant frequency gets lower.
    auto longer = dyn.inv_freq(400);
    EXPECT_TRUE((longer.narrow(0, 1, longer.size(0) - 1) <
                 plain.inv_freq(400).narrow(0, 1, longer.size(0) - 1))
                    .all()
                    .item<bool>());
}
