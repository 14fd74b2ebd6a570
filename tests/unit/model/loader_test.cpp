#include "model/loader.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/error.h"
#include "common/json_file.h"
#include "model/model_init.h"
#include "support/test_support.h"

using namespace llmtune;
using namespace llmtune::model;

namespace {

std::string init_dir(const test::TempDir& tmp, Architecture arch, torch::Dtype dtype,
                     uint64_t max_shard = 5'000'000'000ULL) {
    InitOptions o;
    o.arch = arch;
    o.preset = "tiny";
    o.tokenizer = test::npm_tokenizer_dir("llama2");
    o.out_dir = tmp.file("model");
    o.seed = 7;
    o.dtype = dtype;
    o.max_shard_bytes = max_shard;
    init_model_dir(o);
    return o.out_dir;
}

std::string load_error(const std::string& dir) {
    try {
        load_causal_lm(dir, {});
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
        return e.message();
    }
    ADD_FAILURE() << "expected a load error";
    return "";
}

}  // namespace

TEST(Loader, ModelInitLoadsBackBitIdentical) {
    for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
        test::TempDir tmp;
        auto dir = init_dir(tmp, Architecture::qwen2, dtype);
        auto loaded = load_causal_lm(dir, {dtype, torch::kCPU});
        CausalLM fresh(loaded->config(), torch::TensorOptions().dtype(dtype));
        init_random_weights(fresh, 7);
        auto a = loaded->named_parameters(true), b = fresh->named_parameters(true);
        ASSERT_EQ(a.size(), b.size());
        for (const auto& p : b) {
            EXPECT_EQ(a[p.key()].scalar_type(), dtype) << p.key();
            EXPECT_TRUE(torch::equal(a[p.key()], p.value())) << p.key();
        }
    }
}

TEST(Loader, ShardedModelLoadsTheSame) {
    test::TempDir one, many;
    auto a = load_causal_lm(init_dir(one, Architecture::llama, torch::kFloat32), {});
    auto dir = init_dir(many, Architecture::llama, torch::kFloat32, 4'000'000);
    EXPECT_TRUE(std::filesystem::exists(dir + "/model.safetensors.index.json"));
    auto b = load_causal_lm(dir, {});
    for (const auto& p : a->named_parameters(true))
        EXPECT_TRUE(torch::equal(p.value(), b->named_parameters(true)[p.key()])) << p.key();
}

TEST(Loader, LoadsInAnotherDtypeByConverting) {
    test::TempDir tmp;
    auto dir = init_dir(tmp, Architecture::qwen3, torch::kFloat32);
    auto lm = load_causal_lm(dir, {torch::kBFloat16, torch::kCPU});
    for (const auto& p : lm->parameters())
        EXPECT_EQ(p.scalar_type(), torch::kBFloat16);
}

TEST(Loader, MissingMisshapedAndUnexpectedTensorsAreAllNamed) {
    test::TempDir tmp;
    auto dir = init_dir(tmp, Architecture::llama, torch::kFloat32);
    auto ck = Checkpoint::open_dir(dir);
    NamedTensors tensors;
    for (const auto& name : ck.names()) {
        if (name == "model.layers.1.mlp.up_proj.weight") continue;  // missing
        auto t = ck.tensor(name).clone();
        if (name == "model.layers.0.self_attn.k_proj.weight")
            t = torch::zeros({3, 3});  // misshaped
        tensors.emplace_back(name, t);
    }
    tensors.emplace_back("model.layers.9.extra.weight", torch::zeros({2}));  // unexpected
    write_safetensors(dir + "/model.safetensors", tensors);
    auto msg = load_error(dir);
    EXPECT_NE(msg.find("missing tensor 'model.layers.1.mlp.up_proj.weight'"), std::string::npos)
        << msg;
    EXPECT_NE(msg.find("'model.layers.0.self_attn.k_proj.weight' has shape [3, 3]"),
              std::string::npos)
        << msg;
    EXPECT_NE(msg.find("unexpected tensor 'model.layers.9.extra.weight'"), std::string::npos)
        << msg;
    EXPECT_NE(msg.find("3 problems"), std::string::npos) << msg;
}

TEST(ModelInit, WritesTheFilesTransformersExpects) {
    test::TempDir tmp;
    auto dir = init_dir(tmp, Architecture::llama, torch::kBFloat16);
    for (auto f : {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
                   "tokenizer_config.json"})
        EXPECT_TRUE(std::filesystem::exists(dir + "/" + f)) << f;
    auto cfg = read_json_file(dir + "/config.json");
    EXPECT_EQ(cfg["architectures"][0], "LlamaForCausalLM");
    EXPECT_EQ(cfg["torch_dtype"], "bfloat16");
    // The llama2 tokenizer ships without a chat template; model init adds one.
    auto tc = read_json_file(dir + "/tokenizer_config.json");
    EXPECT_TRUE(tc["chat_template"].is_string());
    auto raw = read_json_file(test::npm_tokenizer_dir("llama2") + "/tokenizer.json");
    EXPECT_EQ(cfg["vocab_size"].get<int64_t>(), static_cast<int64_t>(raw["model"]["vocab"].size()));
    EXPECT_EQ(cfg["eos_token_id"], raw["model"]["vocab"]["</s>"]);
}

TEST(ModelInit, GenerationConfigStopsAtTheEndOfTurnToken) {
    test::TempDir tmp;
    InitOptions o;
    o.arch = Architecture::qwen3;
    o.tokenizer = test::npm_tokenizer_dir("qwen3");
    o.out_dir = tmp.file("m");
    init_model_dir(o);
    auto gen = read_json_file(o.out_dir + "/generation_config.json");
    auto raw = read_json_file(test::npm_tokenizer_dir("qwen3") + "/tokenizer.json");
    int64_t im_end = -1;
    for (const auto& t : raw["added_tokens"])
        if (t["content"] == "<|im_end|>") im_end = t["id"];
    auto eos = gen["eos_token_id"];
    bool found =
        eos.is_array() ? std::find(eos.begin(), eos.end(), im_end) != eos.end() : eos == im_end;
    EXPECT_TRUE(found) << gen.dump();
}

TEST(ModelInit, RefusesToOverwriteAndLeavesNothingBehindOnError) {
    test::TempDir tmp;
    test::write_file(tmp.file("keep.txt"), "precious");
    InitOptions o;
    o.arch = Architecture::llama;
    o.tokenizer = test::npm_tokenizer_dir("llama2");
    o.out_dir = tmp.path();
    try {
        init_model_dir(o);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::conflict);
    }
    EXPECT_EQ(test::read_file(tmp.file("keep.txt")), "precious");
    // A real-shape preset whose vocabulary is smaller than the tokenizer's fails before writing.
    o.out_dir = tmp.file("new");
    o.preset = "llama-3.2-1b";
    o.tokenizer = test::npm_tokenizer_dir("qwen3");
    EXPECT_THROW(init_model_dir(o), Error);
    EXPECT_FALSE(std::filesystem::exists(tmp.file("new")));
}
