#include "model/model_config.h"

#include <gtest/gtest.h>

#include "common/error.h"

using namespace llmtune;
using namespace llmtune::model;

namespace {

json llama_config() {
    return json::parse(R"({
      "architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
      "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
      "vocab_size": 100, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
      "rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                       "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
      "max_position_embeddings": 131072, "tie_word_embeddings": true,
      "bos_token_id": 1, "eos_token_id": [2, 3], "hidden_act": "silu"})");
}

std::string error_of(const json& j) {
    try {
        parse_model_config(j, "config.json");
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
        return e.message();
    }
    ADD_FAILURE() << "expected an error for " << j.dump();
    return "";
}

}  // namespace

TEST(ModelConfig, ParsesLlamaFields) {
    auto c = parse_model_config(llama_config(), "config.json");
    EXPECT_EQ(c.arch, Architecture::llama);
    EXPECT_EQ(c.head_dim, 16);
    EXPECT_EQ(c.num_key_value_heads, 2);
    EXPECT_EQ(c.rope_scaling.type, "llama3");
    EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 32.0);
    EXPECT_TRUE(c.tie_word_embeddings);
    EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{2, 3}));
    EXPECT_FALSE(c.qkv_bias);
}

TEST(ModelConfig, ArchitectureSpecificFlags) {
    auto j = llama_config();
    j["architectures"] = {"Qwen2ForCausalLM"};
    j.erase("rope_scaling");
    auto q2 = parse_model_config(j, "c");
    EXPECT_TRUE(q2.qkv_bias);
    EXPECT_FALSE(q2.o_bias);
    EXPECT_FALSE(q2.qk_norm);
    j["architectures"] = {"Qwen3ForCausalLM"};
    j["head_dim"] = 32;  // Qwen3 decouples head_dim from hidden_size / heads
    auto q3 = parse_model_config(j, "c");
    EXPECT_TRUE(q3.qk_norm);
    EXPECT_EQ(q3.head_dim, 32);
    EXPECT_EQ(q3.q_dim(), 128);
    j["architectures"] = {"MistralForCausalLM"};
    j["sliding_window"] = 4096;
    EXPECT_EQ(parse_model_config(j, "c").sliding_window, 4096);
}

TEST(ModelConfig, RoundTripsThroughTransformersJson) {
    for (auto arch :
         {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM"}) {
        auto j = llama_config();
        j["architectures"] = {arch};
        auto c = parse_model_config(j, "c");
        auto back = parse_model_config(json::parse(model_config_to_json(c).dump()), "c");
        EXPECT_EQ(model_config_to_json(back), model_config_to_json(c)) << arch;
        EXPECT_EQ(back.arch, c.arch);
        EXPECT_EQ(back.qkv_bias, c.qkv_bias);
        EXPECT_EQ(back.rope_scaling.original_max_position_embeddings,
                  c.rope_scaling.original_max_position_embeddings);
    }
}

TEST(ModelConfig, UnknownArchitectureIsNamed) {
    auto j = llama_config();
    j["architectures"] = {"GPT2LMHeadModel"};
    EXPECT_NE(error_of(j).find("GPT2LMHeadModel"), std::string::npos);
}

TEST(ModelConfig, UnimplementedMathIsAnErrorNamingTheField) {
    auto j = llama_config();
    j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
    EXPECT_NE(error_of(j).find("rope_scaling.rope_type"), std::string::npos);
    j = llama_config();
    j["hidden_act"] = "gelu";
    EXPECT_NE(error_of(j).find("hidden_act"), std::string::npos);
    j = llama_config();
    j["mlp_bias"] = true;
    EXPECT_NE(error_of(j).find("mlp_bias"), std::string::npos);
    j = llama_config();
    j["architectures"] = {"Qwen2ForCausalLM"};
    j["use_sliding_window"] = true;
    EXPECT_NE(error_of(j).find("use_sliding_window"), std::string::npos);
    j = llama_config();
    j["quantization_config"] = {{"quant_method", "gptq"}};
    EXPECT_NE(error_of(j).find("quantization_config"), std::string::npos);
}

TEST(ModelConfig, BadValuesAreRejectedWithTheField) {
    auto j = llama_config();
    j["num_key_value_heads"] = 3;
    EXPECT_NE(error_of(j).find("num_key_value_heads"), std::string::npos);
    j = llama_config();
    j["hidden_size"] = "64";
    EXPECT_NE(error_of(j).find("hidden_size"), std::string::npos);
    j = llama_config();
    j.erase("vocab_size");
    EXPECT_NE(error_of(j).find("vocab_size"), std::string::npos);
    j = llama_config();
    j["hidden_size"] = -1;
    EXPECT_NE(error_of(j).find("hidden_size"), std::string::npos);
    j = llama_config();
    j["eos_token_id"] = "x";
    EXPECT_NE(error_of(j).find("eos_token_id"), std::string::npos);
    EXPECT_NE(error_of(json::array()).find("object"), std::string::npos);
}

TEST(ModelConfig, ParameterCountMatchesAKnownModel) {
    // Qwen2.5-0.5B's published size: 494,032,768 parameters (tied embeddings).
    json j = {{"architectures", {"Qwen2ForCausalLM"}},
              {"hidden_size", 896},
              {"intermediate_size", 4864},
              {"num_hidden_layers", 24},
              {"num_attention_heads", 14},
              {"num_key_value_heads", 2},
              {"vocab_size", 151936},
              {"tie_word_embeddings", true}};
    EXPECT_EQ(count_parameters(parse_model_config(j, "c")), 494032768);
}
