// LoRA layers and PEFT adapter directories. Expected values come from the LoRA formula
// (y = x W^T + b + s x A^T B^T, s = alpha / r or alpha / sqrt(r)) written out here in f64,
// and PEFT key names are spelled out here, never taken from the code under test.
//
// Legend: T positions, H hidden, r rank, in / out a projection's features, V vocab.
#include "model/lora.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <set>

#include "common/error.h"
#include "common/json_file.h"
#include "model/gemv.h"
#include "model/loader.h"
#include "model/model_init.h"
#include "model/peft_adapter.h"
#include "model/safetensors.h"
#include "support/test_support.h"

using namespace llmtune;
using namespace llmtune::model;

namespace {

const std::vector<std::string> kAll = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                       "gate_proj", "up_proj", "down_proj"};

ModelConfig tiny(Architecture arch = Architecture::qwen2) {
    ModelConfig c = preset_config("tiny", arch, 1000);
    c.num_hidden_layers = 2;
    return c;
}

CausalLM make(const ModelConfig& c, torch::Dtype dtype = torch::kFloat32, uint64_t seed = 1) {
    CausalLM lm(c, torch::TensorOptions().dtype(dtype));
    init_random_weights(lm, seed);
    torch::NoGradGuard g;
    torch::manual_seed(seed);
    for (auto& p : lm->named_parameters(true))  // random biases, so they matter too
        if (p.key().find("bias") != std::string::npos)
            p.value().copy_(0.1 * torch::randn_like(p.value(), torch::kFloat32).to(dtype));
    return lm;
}

// Gives every lora_B random values (B = 0 would hide any mistake in the LoRA term).
void randomize_b(CausalLM& lm, uint64_t seed = 5) {
    torch::NoGradGuard g;
    torch::manual_seed(seed);
    for (auto& [name, t] : lora_parameters(lm))
        if (name.find("lora_B") != std::string::npos)
            t.copy_(0.05 * torch::randn(t.sizes(), torch::kFloat32));
}

torch::Tensor ids(int64_t n) {
    std::vector<int64_t> v;
    for (int64_t i = 0; i < n; ++i)
        v.push_back((i * 53 + 7) % 1000);
    return torch::tensor(v).unsqueeze(0);  // (1, T)
}

ForwardArgs args_of(const torch::Tensor& input, KVCache* cache = nullptr) {
    ForwardArgs a;
    a.input_ids = input;
    a.cache = cache;
    return a;
}

torch::Tensor logits(CausalLM lm, const torch::Tensor& input) {
    torch::NoGradGuard g;
    return lm->forward(args_of(input));  // (1, T, V)
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
    return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

std::string module_of(int64_t layer, const std::string& t) {
    bool attn = t == "q_proj" || t == "k_proj" || t == "v_proj" || t == "o_proj";
    return "model.layers." + std::to_string(layer) + (attn ? ".self_attn." : ".mlp.") + t;
}

std::set<std::string> names_of(const NamedTensors& t) {
    std::set<std::string> out;
    for (const auto& p : t)
        out.insert(p.first);
    return out;
}

// A standalone projection with random weight and bias.
Linear random_linear(int64_t in, int64_t out, torch::Dtype dtype = torch::kFloat32) {
    Linear l(in, out, true, torch::TensorOptions().dtype(dtype));
    torch::NoGradGuard g;
    torch::manual_seed(11);
    l->weight.copy_(torch::randn({out, in}) / std::sqrt(static_cast<double>(in)));
    l->bias.copy_(0.1 * torch::randn({out}));
    return l;
}

// x W^T + b + s (x A^T) B^T in f64.
torch::Tensor naive_lora(const torch::Tensor& x, LinearImpl& l, double s) {
    auto d = [](const torch::Tensor& t) { return t.detach().to(torch::kFloat64); };
    auto base = torch::matmul(d(x), d(l.weight).t()) + d(l.bias);
    return base +
           s * torch::matmul(torch::matmul(d(x), d(l.lora_A->weight).t()), d(l.lora_B->weight).t());
}

std::string error_of(const std::function<void()>& f, ErrorKind kind = ErrorKind::invalid_input) {
    try {
        f();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), kind) << e.message();
        return e.message();
    }
    ADD_FAILURE() << "expected an error";
    return "";
}

}  // namespace

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

// ---- PEFT adapter directories ----

TEST(Peft, SavedKeysShapesAndConfigAreTheOnesPeftWrites) {
    auto lm = make(tiny());
    LoraConfig cfg;
    cfg.r = 4;
    cfg.alpha = 16;
    cfg.dropout = 0.05;
    cfg.target_modules = {"v_proj", "q_proj", "gate_proj"};
    apply_lora(lm, cfg, 1);
    test::TempDir tmp;
    save_peft_adapter(tmp.file("adapter"), lm, cfg, "Qwen/Qwen2.5-0.5B");

    auto file = SafetensorsFile::open(tmp.file("adapter/adapter_model.safetensors"));
    std::set<std::string> got;
    for (const auto& t : file->header().tensors) {
        got.insert(t.name);
        EXPECT_EQ(t.dtype, StDtype::F32) << t.name;
    }
    std::set<std::string> want;
    for (int l = 0; l < 2; ++l) {
        const std::string L = "base_model.model.model.layers." + std::to_string(l);
        for (const auto& m :
             {L + ".self_attn.q_proj", L + ".self_attn.v_proj", L + ".mlp.gate_proj"})
            for (const auto& ab : {".lora_A.weight", ".lora_B.weight"})
                want.insert(m + ab);
    }
    EXPECT_EQ(got, want);
    // A (r, in), B (out, r); q_proj 192 -> 192, v_proj 192 -> 64 (2 kv heads), gate 192 -> 512.
    auto shape = [&](const std::string& k) { return file->header().find(k)->shape; };
    using V = std::vector<int64_t>;
    EXPECT_EQ(shape("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight"), V({4, 192}));
    EXPECT_EQ(shape("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"), V({64, 4}));
    EXPECT_EQ(shape("base_model.model.model.layers.0.mlp.gate_proj.lora_B.weight"), V({512, 4}));
    EXPECT_EQ(file->header().metadata.at("format"), "pt");

    auto j = read_json_file(tmp.file("adapter/adapter_config.json"));
    EXPECT_EQ(j["peft_type"], "LORA");
    EXPECT_EQ(j["task_type"], "CAUSAL_LM");
    EXPECT_EQ(j["r"], 4);
    EXPECT_EQ(j["lora_alpha"], 16);
    EXPECT_TRUE(j["lora_alpha"].is_number_integer());
    EXPECT_DOUBLE_EQ(j["lora_dropout"].get<double>(), 0.05);
    EXPECT_EQ(j["use_rslora"], false);
    auto targets = j["target_modules"].get<std::vector<std::string>>();
    EXPECT_EQ(std::set<std::string>(targets.begin(), targets.end()),
              (std::set<std::string>{"q_proj", "v_proj", "gate_proj"}));
    EXPECT_EQ(j["bias"], "none");
    EXPECT_EQ(j["base_model_name_or_path"], "Qwen/Qwen2.5-0.5B");
    EXPECT_EQ(j["fan_in_fan_out"], false);
    EXPECT_EQ(j["inference_mode"], true);
    EXPECT_EQ(j["init_lora_weights"], true);
    EXPECT_TRUE(j["modules_to_save"].is_null());
    EXPECT_TRUE(j["revision"].is_null());
    EXPECT_EQ(j["use_dora"], false);
    EXPECT_TRUE(j["rank_pattern"].is_object() && j["rank_pattern"].empty());
    EXPECT_TRUE(j["alpha_pattern"].is_object() && j["alpha_pattern"].empty());
    EXPECT_TRUE(j["layers_to_transform"].is_null());
    // Keys sorted, as PEFT's json.dumps(sort_keys=True).
    auto text = test::read_file(tmp.file("adapter/adapter_config.json"));
    EXPECT_LT(text.find("\"alpha_pattern\""), text.find("\"bias\""));
    EXPECT_LT(text.find("\"task_type\""), text.find("\"use_rslora\""));
}

TEST(Peft, SaveLoadRoundTripIsBitIdentical) {
    for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
        auto lm = make(tiny(), dtype);
        LoraConfig cfg;
        cfg.r = 6;
        cfg.alpha = 7.5;
        cfg.use_rslora = true;
        cfg.target_modules = {"all-linear"};
        apply_lora(lm, cfg, 9);
        randomize_b(lm);
        test::TempDir tmp;
        save_peft_adapter(tmp.path(), lm, cfg, "");

        auto fresh = make(tiny(), dtype);
        LoraConfig loaded = load_peft_adapter(tmp.path(), fresh);
        EXPECT_EQ(loaded.r, 6);
        EXPECT_DOUBLE_EQ(loaded.alpha, 7.5);
        EXPECT_TRUE(loaded.use_rslora);
        EXPECT_EQ(loaded.resolved_targets(), kAll);
        auto a = lora_parameters(lm), b = lora_parameters(fresh);
        ASSERT_EQ(names_of(a), names_of(b));
        auto bp = fresh->named_parameters(true);
        for (const auto& [name, t] : a)
            EXPECT_TRUE(torch::equal(t, bp[name])) << name;
        EXPECT_TRUE(torch::equal(logits(lm, ids(7)), logits(fresh, ids(7))));
        EXPECT_EQ(bp["model.layers.0.mlp.up_proj.weight"].requires_grad(), false);
    }
}

TEST(Peft, LoadsADirectoryLaidOutAsPeftWritesIt) {
    // Written here by hand, the way PEFT's save_pretrained lays it out (keys of a recent PEFT,
    // target_modules in set order), independently of save_peft_adapter.
    test::TempDir tmp;
    test::write_file(tmp.file("adapter_config.json"), R"({
  "alpha_pattern": {}, "auto_mapping": null, "base_model_name_or_path": "Qwen/Qwen2.5-0.5B",
  "bias": "none", "corda_config": null, "ensure_weight_tying": false, "eva_config": null,
  "exclude_modules": null, "fan_in_fan_out": false, "inference_mode": true,
  "init_lora_weights": true, "layer_replication": null, "layers_pattern": null,
  "layers_to_transform": null, "loftq_config": {}, "lora_alpha": 32, "lora_bias": false,
  "lora_dropout": 0.1, "lora_ga_config": null, "megatron_config": null,
  "megatron_core": "megatron.core", "modules_to_save": null, "peft_type": "LORA",
  "peft_version": "0.19.1", "qalora_group_size": 16, "r": 4, "rank_pattern": {},
  "revision": null, "target_modules": ["up_proj", "k_proj"], "target_parameters": null,
  "task_type": "CAUSAL_LM", "trainable_token_indices": null, "use_bdlora": null,
  "use_dora": false, "use_qalora": false, "use_rslora": false
})");
    NamedTensors tensors;
    torch::manual_seed(21);
    for (int l = 0; l < 2; ++l) {
        const std::string L = "base_model.model.model.layers." + std::to_string(l);
        tensors.emplace_back(L + ".self_attn.k_proj.lora_A.weight", torch::randn({4, 192}));
        tensors.emplace_back(L + ".self_attn.k_proj.lora_B.weight", torch::randn({64, 4}));
        tensors.emplace_back(L + ".mlp.up_proj.lora_A.weight", torch::randn({4, 192}));
        tensors.emplace_back(L + ".mlp.up_proj.lora_B.weight", torch::randn({512, 4}));
    }
    write_safetensors(tmp.file("adapter_model.safetensors"), tensors, {{"format", "pt"}});
    auto lm = make(tiny());
    auto cfg = load_peft_adapter(tmp.path(), lm);
    EXPECT_EQ(cfg.resolved_targets(), (std::vector<std::string>{"k_proj", "up_proj"}));
    EXPECT_DOUBLE_EQ(cfg.dropout, 0.1);
    // Each adapted projection computes x W^T + b + (32 / 4) x A^T B^T with the file's A, B.
    auto up = lm->model->layers[1]->as<DecoderLayer>()->mlp->up_proj;
    const std::string key = "base_model.model.model.layers.1.mlp.up_proj.lora_";
    for (const auto& [name, t] : tensors) {
        if (name == key + "A.weight") {
            EXPECT_TRUE(torch::equal(up->lora_A->weight, t));
        } else if (name == key + "B.weight") {
            EXPECT_TRUE(torch::equal(up->lora_B->weight, t));
        }
    }
    torch::NoGradGuard g;
    auto x = torch::randn({3, 192});
    auto w = up->weight.to(torch::kFloat64);
    auto a = up->lora_A->weight.to(torch::kFloat64), b = up->lora_B->weight.to(torch::kFloat64);
    auto want =
        torch::matmul(x.to(torch::kFloat64), (w + 8.0 * torch::matmul(b, a)).t());  // no bias
    EXPECT_LT(max_diff(up(x), want) / want.abs().max().item<double>(), 1e-5);
}

TEST(Peft, AllLinearStringAndPeftDefaultsAreAccepted) {
    auto c = parse_peft_adapter_config(
        R"({"peft_type": "LORA", "target_modules": "all-linear", "r": 2, "auto_mapping": null,
            "some_future_key": 1, "task_type": null, "init_lora_weights": "gaussian"})",
        "adapter_config.json");
    EXPECT_EQ(c.r, 2);
    EXPECT_DOUBLE_EQ(c.alpha, 8.0);  // PEFT's default lora_alpha
    EXPECT_DOUBLE_EQ(c.dropout, 0.0);
    EXPECT_EQ(c.resolved_targets(), kAll);
}

TEST(Peft, DottedSuffixTargetsSelectTheSameProjections) {
    // PEFT matches target_modules entries against the end of the module path.
    auto c = parse_peft_adapter_config(
        R"({"peft_type": "LORA", "target_modules": ["self_attn.q_proj", "mlp.down_proj"]})", "c");
    EXPECT_EQ(c.resolved_targets(), (std::vector<std::string>{"q_proj", "down_proj"}));
    // A suffix naming the wrong parent, or one layer only, selects something else: rejected.
    for (const char* bad : {"mlp.q_proj", "layers.0.self_attn.q_proj", "attn.q_proj"}) {
        auto msg = error_of([&] {
            parse_peft_adapter_config(
                std::string(R"({"peft_type": "LORA", "target_modules": [")") + bad + "\"]}", "c");
        });
        EXPECT_NE(msg.find(bad), std::string::npos) << msg;
    }
}

TEST(Peft, UnsupportedConfigSettingsAreAllNamed) {
    auto msg = error_of([] {
        parse_peft_adapter_config(
            R"({"peft_type": "LORA", "target_modules": ["q_proj", "lm_head"], "use_dora": true,
                "bias": "all", "rank_pattern": {"q_proj": 4}, "lora_dropout": 1.5,
                "init_lora_weights": "pissa"})",
            "adapter_config.json");
    });
    for (const char* what :
         {"lm_head", "use_dora", "bias", "rank_pattern", "lora_dropout", "init_lora_weights"})
        EXPECT_NE(msg.find(what), std::string::npos) << what << " in: " << msg;
    auto regex = error_of([] {
        parse_peft_adapter_config(R"({"peft_type": "LORA", "target_modules": ".*q_proj"})", "c");
    });
    EXPECT_NE(regex.find("regular expression"), std::string::npos) << regex;
    EXPECT_NE(error_of([] {
                  parse_peft_adapter_config(R"({"peft_type": "IA3", "target_modules": []})", "c");
              }).find("IA3"),
              std::string::npos);
}

TEST(Peft, MissingMisshapedAndUnexpectedTensorsAreAllNamed) {
    auto lm = make(tiny());
    LoraConfig cfg;
    cfg.r = 4;
    apply_lora(lm, cfg, 1);
    test::TempDir tmp;
    save_peft_adapter(tmp.path(), lm, cfg, "");
    // Rewrite the weights: one tensor dropped, one with the wrong rank, one with PEFT's
    // in-memory adapter name, one without the prefix.
    const std::string P = "base_model.model.model.layers.";
    const std::string missing = P + "1.self_attn.v_proj.lora_B.weight";
    const std::string misshaped = P + "0.self_attn.q_proj.lora_A.weight";
    const std::string with_name = P + "0.self_attn.k_proj.lora_A.default.weight";
    const std::string no_prefix = "model.layers.0.self_attn.q_proj.lora_B.weight";
    NamedTensors rewritten;
    auto file = SafetensorsFile::open(tmp.file("adapter_model.safetensors"));
    for (const auto& t : file->header().tensors) {
        if (t.name == missing) continue;
        auto v = file->tensor(t.name).clone();
        rewritten.emplace_back(t.name, t.name == misshaped ? torch::zeros({5, 192}) : v);
    }
    rewritten.emplace_back(with_name, torch::zeros({4, 192}));
    rewritten.emplace_back(no_prefix, torch::zeros({192, 4}));
    file.reset();
    write_safetensors(tmp.file("adapter_model.safetensors"), rewritten);

    auto fresh = make(tiny());
    auto msg = error_of([&] { load_peft_adapter(tmp.path(), fresh); });
    for (const auto& name : {missing, misshaped, with_name, no_prefix})
        EXPECT_NE(msg.find("'" + name + "'"), std::string::npos) << name << " in: " << msg;
    EXPECT_NE(msg.find("4 problems"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[5, 192]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("adapter name"), std::string::npos) << msg;
    EXPECT_FALSE(has_lora(fresh));  // nothing changed on failure
}

TEST(Peft, WrongBaseModelAndOtherDirectoryProblems) {
    auto lm = make(tiny());
    LoraConfig cfg;
    apply_lora(lm, cfg, 1);
    test::TempDir tmp;
    save_peft_adapter(tmp.path(), lm, cfg, "");
    // A base model with a different hidden size: every tensor is misshaped.
    auto other_cfg = tiny();
    other_cfg.hidden_size = 96;
    other_cfg.head_dim = 16;
    auto other = make(other_cfg);
    auto msg = error_of([&] { load_peft_adapter(tmp.path(), other); });
    EXPECT_NE(msg.find("8 problems"), std::string::npos) << msg;
    // Saving with a configuration the adapters were not made with.
    LoraConfig other_alpha = cfg;
    other_alpha.alpha = cfg.alpha * 2;
    test::TempDir out;
    msg = error_of([&] { save_peft_adapter(out.file("a"), lm, other_alpha, ""); },
                   ErrorKind::conflict);
    EXPECT_NE(msg.find("scaling"), std::string::npos) << msg;
    LoraConfig other_targets = cfg;
    other_targets.target_modules = {"q_proj"};
    msg = error_of([&] { save_peft_adapter(out.file("b"), lm, other_targets, ""); },
                   ErrorKind::conflict);
    EXPECT_NE(msg.find("v_proj.lora_A"), std::string::npos) << msg;
    EXPECT_FALSE(std::filesystem::exists(out.file("a")));
    // Loading onto a model that already has adapters.
    error_of([&] { load_peft_adapter(tmp.path(), lm); }, ErrorKind::conflict);
    // Pickle weights only.
    test::TempDir bin;
    test::write_file(bin.file("adapter_config.json"),
                     test::read_file(tmp.file("adapter_config.json")));
    test::write_file(bin.file("adapter_model.bin"), "not really");
    auto fresh = make(tiny());
    msg = error_of([&] { load_peft_adapter(bin.path(), fresh); });
    EXPECT_NE(msg.find("adapter_model.bin"), std::string::npos) << msg;
    // No config at all.
    test::TempDir empty;
    error_of([&] { load_peft_adapter(empty.path(), fresh); }, ErrorKind::not_found);
}
