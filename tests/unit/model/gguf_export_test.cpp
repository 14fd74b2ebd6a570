// export_gguf on tiny random models, read back by the test's own GGUF reader: every metadata
// key, the tensor names and shapes, and the data against the model's weights.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/error.h"
#include "common/json_file.h"
#include "gguf_test_model.h"
#include "gguf_test_reader.h"
#include "model/gguf_export.h"
#include "model/loader.h"
#include "model/lora.h"
#include "support/test_support.h"

using namespace llmtune;
using namespace llmtune::model;
namespace gg = llmtune::test::gguf;
namespace fs = std::filesystem;

namespace {

struct Fixture {
    test::TempDir dir;
    std::string tok, model;
    ModelConfig cfg;
    Fixture(const std::string& arch) {
        tok = dir.file("tok");
        model = dir.file("model");
        test::write_small_bpe_tokenizer(tok);
        cfg = test::make_tiny_model(arch, tok, model);
    }
    CausalLM load() { return load_causal_lm(model, LoadOptions{}); }
    gg::File export_as(GgmlType type, CausalLM* lm = nullptr, const std::string& name = "m.gguf") {
        CausalLM own{nullptr};
        if (!lm) {
            own = load();
            lm = &own;
        }
        GgufExportOptions o;
        o.type = type;
        export_gguf(*lm, model, dir.file(name), o);
        return gg::read_file(dir.file(name));
    }
};

// The tensor's stored values, which must be F32, as a torch tensor of the HF shape.
torch::Tensor f32_tensor(const gg::File& f, const std::string& name) {
    const auto& t = f.tensor(name);
    EXPECT_EQ(t.type, 0u) << name;
    auto v = gg::values(f, t);
    std::vector<int64_t> shape(t.dims.rbegin(), t.dims.rend());
    return torch::from_blob(v.data(), shape, torch::kFloat32).clone();
}

// llama.cpp's row order, computed independently: per head, row j -> 2j, row hd/2 + j -> 2j + 1.
torch::Tensor interleave_heads(const torch::Tensor& w, int64_t n_head) {
    auto out = torch::empty_like(w);
    const int64_t hd = w.size(0) / n_head;
    for (int64_t h = 0; h < n_head; ++h)
        for (int64_t j = 0; j < hd / 2; ++j) {
            out[h * hd + 2 * j] = w[h * hd + j];
            out[h * hd + 2 * j + 1] = w[h * hd + hd / 2 + j];
        }
    return out;
}

std::vector<std::string> expected_tensor_names(const ModelConfig& c) {
    std::vector<std::string> n = {"token_embd.weight", "output_norm.weight"};
    if (!c.tie_word_embeddings) n.push_back("output.weight");
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
        const std::string p = "blk." + std::to_string(i) + ".";
        for (const char* s : {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm",
                              "ffn_gate", "ffn_up", "ffn_down"})
            n.push_back(p + s + ".weight");
        if (c.qkv_bias)
            for (const char* s : {"attn_q", "attn_k", "attn_v"}) n.push_back(p + s + ".bias");
        if (c.qk_norm) {
            n.push_back(p + "attn_q_norm.weight");
            n.push_back(p + "attn_k_norm.weight");
        }
    }
    std::sort(n.begin(), n.end());
    return n;
}

std::vector<std::string> names_of(const gg::File& f) {
    std::vector<std::string> n;
    for (const auto& t : f.tensors) n.push_back(t.name);
    std::sort(n.begin(), n.end());
    return n;
}

void expect_u32(const gg::File& f, const std::string& key, uint64_t v) {
    ASSERT_TRUE(f.kv.count(key)) << key;
    EXPECT_EQ(f.at(key).type, 4u) << key;
    EXPECT_EQ(f.at(key).u, v) << key;
}

}  // namespace

TEST(GgufExport, Qwen3F32MetadataTokenizerAndExactTensors) {
    Fixture fx("qwen3");
    auto lm = fx.load();
    auto f = fx.export_as(GgmlType::f32, &lm);
    const ModelConfig& c = fx.cfg;
    EXPECT_EQ(f.version, 3u);
    EXPECT_EQ(f.at("general.architecture").s, "qwen3");
    EXPECT_EQ(f.at("general.name").s, "model");
    expect_u32(f, "general.file_type", 0);
    expect_u32(f, "general.quantization_version", 2);
    expect_u32(f, "qwen3.vocab_size", c.vocab_size);
    expect_u32(f, "qwen3.context_length", c.max_position_embeddings);
    expect_u32(f, "qwen3.embedding_length", c.hidden_size);
    expect_u32(f, "qwen3.block_count", c.num_hidden_layers);
    expect_u32(f, "qwen3.feed_forward_length", c.intermediate_size);
    expect_u32(f, "qwen3.attention.head_count", c.num_attention_heads);
    expect_u32(f, "qwen3.attention.head_count_kv", c.num_key_value_heads);
    expect_u32(f, "qwen3.attention.key_length", c.head_dim);
    expect_u32(f, "qwen3.attention.value_length", c.head_dim);
    expect_u32(f, "qwen3.rope.dimension_count", c.head_dim);
    EXPECT_EQ(f.at("qwen3.attention.layer_norm_rms_epsilon").type, 6u);
    EXPECT_EQ(f.at("qwen3.attention.layer_norm_rms_epsilon").f, static_cast<float>(c.rms_norm_eps));
    EXPECT_EQ(f.at("qwen3.rope.freq_base").f, static_cast<float>(c.rope_theta));
    EXPECT_EQ(f.kv.count("qwen3.rope.scaling.type"), 0u);

    // Tokenizer, against tokenizer.json and tokenizer_config.json read here.
    json tj = read_json_file(fx.tok + "/tokenizer.json");
    json tc = read_json_file(fx.tok + "/tokenizer_config.json");
    EXPECT_EQ(f.at("tokenizer.ggml.model").s, "gpt2");
    EXPECT_EQ(f.at("tokenizer.ggml.pre").s, "qwen2");
    const auto& tokens = f.at("tokenizer.ggml.tokens");
    const auto& types = f.at("tokenizer.ggml.token_type");
    ASSERT_EQ(tokens.elem_type, 8u);
    ASSERT_EQ(types.elem_type, 5u);
    ASSERT_EQ(tokens.array.size(), static_cast<size_t>(c.vocab_size));
    ASSERT_EQ(types.array.size(), static_cast<size_t>(c.vocab_size));
    for (const auto& [token, id] : tj["model"]["vocab"].items()) {
        EXPECT_EQ(tokens.array[id.get<int>()].s, token);
        EXPECT_EQ(types.array[id.get<int>()].i, 1) << token;  // normal
    }
    for (const auto& a : tj["added_tokens"]) {
        const int id = a["id"].get<int>();
        EXPECT_EQ(tokens.array[id].s, a["content"].get<std::string>());
        EXPECT_EQ(types.array[id].i, a["special"].get<bool>() ? 3 : 4) << id;  // control / user
    }
    const auto& merges = f.at("tokenizer.ggml.merges");
    ASSERT_EQ(merges.array.size(), tj["model"]["merges"].size());
    for (size_t k = 0; k < merges.array.size(); ++k)
        EXPECT_EQ(merges.array[k].s, tj["model"]["merges"][k].get<std::string>());
    auto id_of = [&](const std::string& content) {
        for (const auto& a : tj["added_tokens"])
            if (a["content"] == content) return a["id"].get<uint64_t>();
        return uint64_t(-1);
    };
    expect_u32(f, "tokenizer.ggml.eos_token_id", id_of(tc["eos_token"]));
    expect_u32(f, "tokenizer.ggml.padding_token_id", id_of(tc["pad_token"]));
    EXPECT_EQ(f.kv.count("tokenizer.ggml.bos_token_id"), 0u);  // bos_token is null
    EXPECT_EQ(f.at("tokenizer.ggml.add_bos_token").type, 7u);
    EXPECT_EQ(f.at("tokenizer.ggml.add_bos_token").u, 0u);
    EXPECT_EQ(f.at("tokenizer.ggml.add_eos_token").u, 0u);
    EXPECT_EQ(f.at("tokenizer.chat_template").s, tc["chat_template"].get<std::string>());

    // Tensors: names, shapes, types, and exact data (Qwen keeps HF's rotate-half layout).
    EXPECT_EQ(names_of(f), expected_tensor_names(c));
    EXPECT_TRUE(c.tie_word_embeddings);
    const auto& emb = f.tensor("token_embd.weight");
    EXPECT_EQ(emb.dims, (std::vector<uint64_t>{uint64_t(c.hidden_size), uint64_t(c.vocab_size)}));
    auto state = model_state(lm);
    std::map<std::string, torch::Tensor> hf(state.begin(), state.end());
    auto same = [&](const std::string& g, const std::string& h) {
        EXPECT_TRUE(torch::equal(f32_tensor(f, g), hf.at(h))) << g << " vs " << h;
    };
    same("token_embd.weight", "model.embed_tokens.weight");
    same("output_norm.weight", "model.norm.weight");
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
        const std::string g = "blk." + std::to_string(i) + ".", h = "model.layers." + std::to_string(i) + ".";
        same(g + "attn_norm.weight", h + "input_layernorm.weight");
        same(g + "attn_q.weight", h + "self_attn.q_proj.weight");
        same(g + "attn_k.weight", h + "self_attn.k_proj.weight");
        same(g + "attn_v.weight", h + "self_attn.v_proj.weight");
        same(g + "attn_output.weight", h + "self_attn.o_proj.weight");
        same(g + "attn_q_norm.weight", h + "self_attn.q_norm.weight");
        same(g + "attn_k_norm.weight", h + "self_attn.k_norm.weight");
        same(g + "ffn_norm.weight", h + "post_attention_layernorm.weight");
        same(g + "ffn_gate.weight", h + "mlp.gate_proj.weight");
        same(g + "ffn_up.weight", h + "mlp.up_proj.weight");
        same(g + "ffn_down.weight", h + "mlp.down_proj.weight");
    }
}

TEST(GgufExport, LlamaPermutesQKAndKeepsTheUntiedOutput) {
    Fixture fx("llama");
    auto lm = fx.load();
    auto f = fx.export_as(GgmlType::f32, &lm);
    const ModelConfig& c = fx.cfg;
    EXPECT_EQ(f.at("general.architecture").s, "llama");
    expect_u32(f, "llama.attention.head_count_kv", c.num_key_value_heads);
    EXPECT_EQ(names_of(f), expected_tensor_names(c));
    auto state = model_state(lm);
    std::map<std::string, torch::Tensor> hf(state.begin(), state.end());
    EXPECT_TRUE(torch::equal(f32_tensor(f, "output.weight"), hf.at("lm_head.weight")));
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
        const std::string g = "blk." + std::to_string(i) + ".", h = "model.layers." + std::to_string(i) + ".";
        auto q = hf.at(h + "self_attn.q_proj.weight"), k = hf.at(h + "self_attn.k_proj.weight");
        EXPECT_TRUE(torch::equal(f32_tensor(f, g + "attn_q.weight"), interleave_heads(q, c.num_attention_heads)));
        EXPECT_TRUE(torch::equal(f32_tensor(f, g + "attn_k.weight"), interleave_heads(k, c.num_key_value_heads)));
        EXPECT_FALSE(torch::equal(f32_tensor(f, g + "attn_q.weight"), q));  // really permuted
        EXPECT_TRUE(torch::equal(f32_tensor(f, g + "attn_v.weight"), hf.at(h + "self_attn.v_proj.weight")));
    }
    // The library's permutation is the same map.
    auto w = torch::arange(24).reshape({12, 2});
    EXPECT_TRUE(torch::equal(permute_rope_rows(w, 2), interleave_heads(w, 2)));
}

TEST(GgufExport, Qwen2BiasesStayF32AndQuantizedTypesRoundWithinTheFormat) {
    Fixture fx("qwen2");
    auto lm = fx.load();
    auto state = model_state(lm);
    std::map<std::string, torch::Tensor> hf(state.begin(), state.end());
    const std::pair<GgmlType, uint64_t> cases[] = {
        {GgmlType::f16, 1}, {GgmlType::bf16, 32}, {GgmlType::q8_0, 7}};
    for (const auto& [type, ftype] : cases) {
        SCOPED_TRACE(ggml_type_name(type));
        auto f = fx.export_as(type, &lm, std::string(ggml_type_name(type)) + ".gguf");
        expect_u32(f, "general.file_type", ftype);
        EXPECT_EQ(names_of(f), expected_tensor_names(fx.cfg));
        for (const auto& t : f.tensors) {
            if (t.dims.size() == 1) {
                EXPECT_EQ(t.type, 0u) << t.name;  // norms and biases
                continue;
            }
            EXPECT_EQ(t.type, static_cast<uint32_t>(type)) << t.name;
        }
        const std::pair<const char*, const char*> checks[] = {
            {"token_embd.weight", "model.embed_tokens.weight"},
            {"blk.1.attn_q.weight", "model.layers.1.self_attn.q_proj.weight"},
            {"blk.1.attn_q.bias", "model.layers.1.self_attn.q_proj.bias"},
            {"blk.3.ffn_down.weight", "model.layers.3.mlp.down_proj.weight"}};
        for (const auto& [g, h] : checks) {
            const auto& info = f.tensor(g);
            auto v = gg::values(f, info);
            auto ref = hf.at(h).contiguous();
            const float* x = ref.data_ptr<float>();
            ASSERT_EQ(v.size(), static_cast<size_t>(ref.numel()));
            for (size_t k = 0; k < v.size(); ++k) {
                float tol = 0;
                if (info.type == 1) tol = std::fabs(x[k]) * std::ldexp(1.0f, -11) + std::ldexp(1.0f, -25);
                if (info.type == 30) tol = std::fabs(x[k]) * std::ldexp(1.0f, -8);
                if (info.type == 8) {
                    float amax = 0;
                    for (size_t j = k / 32 * 32; j < k / 32 * 32 + 32; ++j) amax = std::max(amax, std::fabs(x[j]));
                    const float d = amax / 127, dq = gg::q8_0_scale(f, info, k / 32);
                    tol = 0.5f * d + 127 * std::fabs(dq - d) + 1e-7f;
                }
                ASSERT_LE(std::fabs(v[k] - x[k]), tol) << g << "[" << k << "]";
            }
        }
    }
}

TEST(GgufExport, MergesALoraAdapterFirst) {
    Fixture fx("qwen3");
    auto lm = fx.load();
    LoraConfig lc;
    lc.r = 4;
    lc.target_modules = {"all-linear"};
    apply_lora(lm, lc, 3);
    // B starts at zero; give it values so that the merge changes the weights.
    for (auto& p : lm->named_parameters())
        if (p.key().find("lora_B") != std::string::npos) p.value().data().normal_(0, 0.05);
    auto layer = lm->model->layers[2]->as<DecoderLayerImpl>();
    auto& q = layer->self_attn->q_proj;
    auto expected = (q->weight + lc.scaling() * torch::matmul(q->lora_B->weight, q->lora_A->weight)).detach().clone();
    auto f = fx.export_as(GgmlType::f32, &lm);
    EXPECT_FALSE(has_lora(lm));
    EXPECT_TRUE(torch::allclose(f32_tensor(f, "blk.2.attn_q.weight"), expected, 0, 1e-6));
    auto base = fx.load();
    auto base_q = base->model->layers[2]->as<DecoderLayerImpl>()->self_attn->q_proj->weight;
    EXPECT_FALSE(torch::allclose(expected, base_q, 0, 1e-4));  // the adapter mattered
}

TEST(GgufExport, BadInputGivesPreciseErrors) {
    Fixture fx("qwen3");
    auto lm = fx.load();
    GgufExportOptions o;
    // A pre-tokenizer llama.cpp has no name for.
    json tj = read_json_file(fx.model + "/tokenizer.json");
    tj["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\s+|\\w+";
    test::write_file(fx.model + "/tokenizer.json", tj.dump());
    try {
        export_gguf(lm, fx.model, fx.dir.file("x.gguf"), o);
        FAIL() << "unknown pre-tokenizer accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
        EXPECT_NE(e.message().find("the pre-tokenizer is not one llama.cpp knows"), std::string::npos)
            << e.message();
        EXPECT_NE(e.hint().find("qwen2"), std::string::npos) << e.hint();
        EXPECT_NE(e.hint().find("convert_hf_to_gguf.py"), std::string::npos) << e.hint();
    }
    EXPECT_FALSE(fs::exists(fx.dir.file("x.gguf")));
    // No tokenizer at all.
    fs::remove(fx.model + "/tokenizer.json");
    try {
        export_gguf(lm, fx.model, fx.dir.file("x.gguf"), o);
        FAIL() << "missing tokenizer accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::not_found) << e.message();
    }
    // An unwritable output.
    test::write_small_bpe_tokenizer(fx.model);
    try {
        export_gguf(lm, fx.model, fx.dir.file("no/such/dir/x.gguf"), o);
        FAIL() << "unwritable output accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::io) << e.message();
    }
}

TEST(GgufExport, MistralIsLlamaAndAnIgnoredSlidingWindowIsReported) {
    Fixture fx("mistral");
    json cfg = read_json_file(fx.model + "/config.json");
    cfg["sliding_window"] = 64;
    test::write_file(fx.model + "/config.json", cfg.dump());
    auto lm = fx.load();
    GgufExportOptions o;
    o.type = GgmlType::f32;
    auto s = export_gguf(lm, fx.model, fx.dir.file("m.gguf"), o);
    EXPECT_EQ(s.architecture, "llama");
    ASSERT_EQ(s.warnings.size(), 1u);
    EXPECT_NE(s.warnings[0].find("sliding_window 64 is not stored"), std::string::npos) << s.warnings[0];
    auto f = gg::read_file(fx.dir.file("m.gguf"));
    EXPECT_EQ(f.at("general.architecture").s, "llama");
    EXPECT_EQ(names_of(f), expected_tensor_names(fx.cfg));
}

TEST(GgufExport, RopeScalingLinearAsKeysLlama3AsRopeFreqs) {
    Fixture fx("llama");
    json cfg = read_json_file(fx.model + "/config.json");
    cfg["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                           {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 64}};
    test::write_file(fx.model + "/config.json", cfg.dump());
    auto f = fx.export_as(GgmlType::f16, nullptr, "l3.gguf");
    EXPECT_EQ(f.kv.count("llama.rope.scaling.type"), 0u);
    auto factors = f32_tensor(f, "rope_freqs.weight");  // F32 though the weights are F16
    const int64_t hd = fx.cfg.head_dim;
    ASSERT_EQ(factors.numel(), hd / 2);
    // Per frequency: 1 for short wavelengths, the factor for long ones, a blend between.
    const double theta = fx.cfg.rope_theta;
    for (int64_t i = 0; i < hd / 2; ++i) {
        const double wavelen = 2 * M_PI * std::pow(theta, 2.0 * i / hd);
        const float got = factors[i].item<float>();
        if (wavelen < 64 / 4.0)
            EXPECT_EQ(got, 1.0f) << i;
        else if (wavelen > 64 / 1.0)
            EXPECT_EQ(got, 8.0f) << i;
        else
            EXPECT_TRUE(got > 1.0f && got < 8.0f) << i << " " << got;
    }

    cfg["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 2.0}};
    test::write_file(fx.model + "/config.json", cfg.dump());
    auto g = fx.export_as(GgmlType::f16, nullptr, "lin.gguf");
    EXPECT_EQ(g.at("llama.rope.scaling.type").s, "linear");
    EXPECT_EQ(g.at("llama.rope.scaling.factor").f, 2.0);
    EXPECT_FALSE(g.has_tensor("rope_freqs.weight"));
}
