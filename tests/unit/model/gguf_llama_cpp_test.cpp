// The exported GGUF in real llama.cpp (node-llama-cpp's prebuilt CPU build, via
// tests/reference/gguf_generate.mjs): llama.cpp must tokenize like llmtune and greedy-generate
// the same ids as `llmtune generate --temperature 0`, for a tiny qwen3 model with the real Qwen3
// tokenizer, and tiny llama models with the real Llama 3 and Llama 2 (SentencePiece BPE)
// tokenizers.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "common/json_file.h"
#include "model/loader.h"
#include "model/safetensors.h"
#include "support/test_support.h"
#include "unit/model/gguf_test_model.h"
#include "tokenizer/tokenizer.h"

using namespace llmtune;
namespace fs = std::filesystem;

namespace {

std::string q(const std::string& s) {
    return "'" + s + "'";
}

// model init draws weights with std 0.02, whose near-uniform logits make greedy decoding
// repeat one token; larger weights (and norm weights away from 1) give varied continuations
// that exercise every tensor, so a wrong layout shows up as different ids.
void make_weights_decisive(const std::string& model_dir) {
    auto lm = model::load_causal_lm(model_dir, {});
    {
        torch::NoGradGuard g;
        torch::manual_seed(3);
        for (auto& p : lm->named_parameters()) {
            if (p.value().dim() == 2)
                p.value().normal_(0, 0.15);
            else
                p.value().uniform_(0.5, 1.5);  // norms and biases
        }
    }
    model::write_checkpoint(model_dir, model::model_state(lm));
}

std::string join_ids(const std::vector<int64_t>& ids) {
    std::string s;
    for (auto id : ids) s += (s.empty() ? "" : ",") + std::to_string(id);
    return s;
}

void check_against_llama_cpp(const std::string& arch, const std::string& tokenizer_name,
                             const std::vector<std::string>& texts) {
    SCOPED_TRACE(arch + " with the " + tokenizer_name + " tokenizer");
    test::TempDir dir;
    const std::string bin = test::llmtune_binary(), model = dir.file("model"),
                      gguf = dir.file("model.gguf");
    auto r = test::run_command(bin + " model init --arch " + arch + " --preset tiny --seed 7 --tokenizer " +
                               q(test::npm_tokenizer_dir(tokenizer_name)) + " --out " + q(model));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    make_weights_decisive(model);
    r = test::run_command(bin + " export --model " + q(model) + " --format gguf --dtype f32 --out " + q(gguf));
    ASSERT_EQ(r.exit_code, 0) << r.err;

    auto tok = tokenizer::Tokenizer::load(model);
    const std::string prompt_text = "The quick brown fox jumps over";
    const auto prompt = tok->encode(prompt_text, true);
    const int max_tokens = 24;
    test::write_file(dir.file("texts.json"), json(texts).dump());

    const std::string script = std::string(LLMTUNE_SOURCE_DIR) + "/tests/reference/gguf_generate.mjs";
    ASSERT_TRUE(fs::exists(std::string(LLMTUNE_NODE_MODULES) + "/node-llama-cpp/package.json"))
        << "node-llama-cpp is missing; run `npm ci` in the repository root (scripts/setup does)";
    r = test::run_command("cd " + q(LLMTUNE_SOURCE_DIR) + " && node " + q(script) + " " + q(gguf) +
                          " --texts " + q(dir.file("texts.json")) + " --prompt-ids " + join_ids(prompt) +
                          " --max-tokens " + std::to_string(max_tokens));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    json ref = parse_json_text(r.out, "gguf_generate.mjs output");

    // Tokenization of every text, special-token text included.
    ASSERT_EQ(ref["tokenize"].size(), texts.size());
    for (size_t i = 0; i < texts.size(); ++i)
        EXPECT_EQ(ref["tokenize"][i].get<std::vector<int64_t>>(), tok->encode(texts[i], false))
            << "text: " << texts[i];
    const bool adds_bos = tok->encode("a", true).size() > tok->encode("a", false).size();
    EXPECT_EQ(ref["add_bos"].get<bool>(), adds_bos);

    // Greedy generation from the same ids.
    r = test::run_command(bin + " generate --model " + q(model) + " --prompt-ids " + join_ids(prompt) +
                          " --temperature 0 --max-tokens " + std::to_string(max_tokens) + " --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    json ours = parse_json_text(r.out, "llmtune generate --json");
    auto ours_ids = ours["tokens"].get<std::vector<int64_t>>();
    auto theirs = ref["generated"].get<std::vector<int64_t>>();
    ASSERT_EQ(theirs.size(), static_cast<size_t>(max_tokens));
    // The fixture must make the comparison meaningful: a varied continuation.
    ASSERT_GE(std::set<int64_t>(theirs.begin(), theirs.end()).size(), 6u) << r.out;
    // llmtune stops at an end-of-sequence id (llama.cpp's evaluate loop here does not), so its
    // ids must be llama.cpp's, up to the stop.
    if (ours["finish_reason"] == "stop") {
        ASSERT_LE(ours_ids.size(), theirs.size());
        theirs.resize(ours_ids.size());
    }
    EXPECT_EQ(ours_ids, theirs);
}

const std::vector<std::string> kCommonTexts = {
    "Hello world",
    " leading space and  double  spaces   ",
    "numbers 1234567 and 3.14159, dates 2024-01-02",
    "multi\n\nline\ttabs\r\nand CRLF",
    "Unicode: h\xc3\xa9llo w\xc3\xb6rld \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\xa4\x96 caf\xc3\xa9",
    "don't I'll we've THEY'RE it's",
    "code: for (int i = 0; i < n; ++i) { x += y[i]; }",
};

}  // namespace

TEST(GgufLlamaCpp, Qwen3TokenizesAndGeneratesLikeLlmtune) {
    auto texts = kCommonTexts;
    texts.push_back("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nok");
    check_against_llama_cpp("qwen3", "qwen3", texts);
}

TEST(GgufLlamaCpp, Qwen2WithBiasesTokenizesAndGeneratesLikeLlmtune) {
    check_against_llama_cpp("qwen2", "qwen3", kCommonTexts);
}

TEST(GgufLlamaCpp, LlamaWithLlama3TokenizerTokenizesAndGeneratesLikeLlmtune) {
    auto texts = kCommonTexts;
    texts.push_back("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>");
    check_against_llama_cpp("llama", "llama3", texts);
}

TEST(GgufLlamaCpp, LlamaWithLlama2SentencePieceTokenizerTokenizesAndGeneratesLikeLlmtune) {
    auto texts = kCommonTexts;
    texts.push_back("<s>[INST] hi [/INST] ok</s>");
    check_against_llama_cpp("llama", "llama2", texts);
}

// F16, BF16 and Q8_0 files load in llama.cpp (tensor layouts and the F32 1-D tensors accepted),
// tokenize like llmtune and generate. Their ids are not compared: rounding the weights may
// flip a greedy choice.
TEST(GgufLlamaCpp, F16Bf16AndQ8_0FilesLoadAndRun) {
    test::TempDir dir;
    test::write_small_bpe_tokenizer(dir.file("tok"));
    const std::string bin = test::llmtune_binary(),
                      script = std::string(LLMTUNE_SOURCE_DIR) + "/tests/reference/gguf_generate.mjs";
    const std::vector<std::string> texts = {"the hello world <|im_start|>x<think>", "tell all"};
    test::write_file(dir.file("texts.json"), json(texts).dump());
    // Each type once, each architecture once (every node start costs seconds).
    const std::pair<const char*, const char*> cases[] = {
        {"llama", "q8_0"}, {"qwen2", "bf16"}, {"qwen3", "f16"}};
    for (const auto& [arch, dtype] : cases) {
        const std::string model = dir.file(arch);
        test::make_tiny_model(arch, dir.file("tok"), model);
        make_weights_decisive(model);
        auto tok = tokenizer::Tokenizer::load(model);
        {
            SCOPED_TRACE(std::string(arch) + " " + dtype);
            const std::string gguf = dir.file(std::string(arch) + "-" + dtype + ".gguf");
            auto r = test::run_command(bin + " export --model " + q(model) + " --format gguf --dtype " +
                                       dtype + " --out " + q(gguf));
            ASSERT_EQ(r.exit_code, 0) << r.err;
            r = test::run_command("cd " + q(LLMTUNE_SOURCE_DIR) + " && node " + q(script) + " " + q(gguf) +
                                  " --texts " + q(dir.file("texts.json")) + " --prompt-ids 3,256,17 --max-tokens 8");
            ASSERT_EQ(r.exit_code, 0) << r.err;
            json ref = parse_json_text(r.out, "gguf_generate.mjs output");
            for (size_t i = 0; i < texts.size(); ++i)
                EXPECT_EQ(ref["tokenize"][i].get<std::vector<int64_t>>(), tok->encode(texts[i], false));
            auto gen = ref["generated"].get<std::vector<int64_t>>();
            ASSERT_EQ(gen.size(), 8u);
            for (auto id : gen) EXPECT_TRUE(id >= 0 && id < tok->vocab_size()) << id;
        }
    }
}
