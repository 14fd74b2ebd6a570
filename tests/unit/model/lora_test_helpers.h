// Helpers shared by the LoRA and PEFT adapter tests: tiny random models, a hand-written
// reference for the LoRA formula, error capture.
//
// Legend: T positions, H hidden, r rank, in / out a projection's features, V vocab.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "model/lora.h"
#include "model/model_init.h"
#include "model/safetensors.h"

namespace llmtune::model::lora_test {

inline const std::vector<std::string> kAll = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                              "gate_proj", "up_proj", "down_proj"};

inline ModelConfig tiny(Architecture arch = Architecture::qwen2) {
    ModelConfig c = preset_config("tiny", arch, 1000);
    c.num_hidden_layers = 2;
    return c;
}

inline CausalLM make(const ModelConfig& c, torch::Dtype dtype = torch::kFloat32,
                     uint64_t seed = 1) {
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
inline void randomize_b(CausalLM& lm, uint64_t seed = 5) {
    torch::NoGradGuard g;
    torch::manual_seed(seed);
    for (auto& [name, t] : lora_parameters(lm))
        if (name.find("lora_B") != std::string::npos)
            t.copy_(0.05 * torch::randn(t.sizes(), torch::kFloat32));
}

inline torch::Tensor ids(int64_t n) {
    std::vector<int64_t> v;
    for (int64_t i = 0; i < n; ++i)
        v.push_back((i * 53 + 7) % 1000);
    return torch::tensor(v).unsqueeze(0);  // (1, T)
}

inline ForwardArgs args_of(const torch::Tensor& input, KVCache* cache = nullptr) {
    ForwardArgs a;
    a.input_ids = input;
    a.cache = cache;
    return a;
}

inline torch::Tensor logits(CausalLM lm, const torch::Tensor& input) {
    torch::NoGradGuard g;
    return lm->forward(args_of(input));  // (1, T, V)
}

inline double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
    return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

inline std::string module_of(int64_t layer, const std::string& t) {
    bool attn = t == "q_proj" || t == "k_proj" || t == "v_proj" || t == "o_proj";
    return "model.layers." + std::to_string(layer) + (attn ? ".self_attn." : ".mlp.") + t;
}

inline std::set<std::string> names_of(const NamedTensors& t) {
    std::set<std::string> out;
    for (const auto& p : t)
        out.insert(p.first);
    return out;
}

// A standalone projection with random weight and bias.
inline Linear random_linear(int64_t in, int64_t out, torch::Dtype dtype = torch::kFloat32) {
    Linear l(in, out, true, torch::TensorOptions().dtype(dtype));
    torch::NoGradGuard g;
    torch::manual_seed(11);
    l->weight.copy_(torch::randn({out, in}) / std::sqrt(static_cast<double>(in)));
    l->bias.copy_(0.1 * torch::randn({out}));
    return l;
}

// x W^T + b + s (x A^T) B^T in f64.
inline torch::Tensor naive_lora(const torch::Tensor& x, LinearImpl& l, double s) {
    auto d = [](const torch::Tensor& t) { return t.detach().to(torch::kFloat64); };
    auto base = torch::matmul(d(x), d(l.weight).t()) + d(l.bias);
    return base +
           s * torch::matmul(torch::matmul(d(x), d(l.lora_A->weight).t()), d(l.lora_B->weight).t());
}

inline std::string error_of(const std::function<void()>& f,
                            ErrorKind kind = ErrorKind::invalid_input) {
    try {
        f();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), kind) << e.message();
        return e.message();
    }
    ADD_FAILURE() << "expected an error";
    return "";
}

}  // namespace llmtune::model::lora_test
