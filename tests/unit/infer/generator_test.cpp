#include "infer/generator.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "common/utf8.h"
#include "model/model_init.h"

using namespace llmtune;
using namespace llmtune::infer;
using namespace llmtune::model;

namespace {

CausalLM tiny_model(Architecture arch = Architecture::qwen2) {
    auto cfg = preset_config("tiny", arch, 300);
    cfg.num_hidden_layers = 2;
    CausalLM lm(cfg, torch::TensorOptions().dtype(torch::kFloat32));
    init_random_weights(lm, 11);
    // Larger weights than the 0.02 init make the next-token distribution peaky enough that
    // greedy and sampled runs are not all alike.
    torch::NoGradGuard g;
    for (auto& p : lm->parameters())
        p.mul_(8);
    return lm;
}

// Decodes token i to a 3-byte character split unevenly: even ids give its first two bytes,
// odd ids its last one, so a character often spans two tokens.
class SplittingDecoder : public TokenDecoder {
  public:
    std::string decode(const std::vector<int64_t>& ids) const override {
        std::string out;
        for (int64_t id : ids)
            out += id % 2 == 0 ? "\xE2\x82" : "\xAC";
        return out;
    }
};

// Each token is its id in angle brackets, e.g. "<17>".
class BracketDecoder : public TokenDecoder {
  public:
    std::string decode(const std::vector<int64_t>& ids) const override {
        std::string out;
        for (int64_t id : ids)
            out += "<" + std::to_string(id) + ">";
        return out;
    }
};

const std::vector<int64_t> kPrompt = {5, 17, 42, 99};

}  // namespace

TEST(Generator, GreedyIsDeterministicAndMatchesArgmaxOfFullForwards) {
    auto lm = tiny_model();
    GenerationParams p;
    p.max_tokens = 8;
    p.sampling.temperature = 0;
    auto a = generate(lm, kPrompt, p), b = generate(lm, kPrompt, p);
    EXPECT_EQ(a.tokens, b.tokens);
    EXPECT_EQ(a.finish_reason, "length");
    // Without the cache: re-run the whole sequence each step and take the argmax.
    std::vector<int64_t> seq = kPrompt;
    torch::NoGradGuard g;
    for (int i = 0; i < 8; ++i) {
        auto logits = lm->forward({torch::tensor(seq).unsqueeze(0)});
        seq.push_back(logits[0][-1].argmax().item<int64_t>());
    }
    EXPECT_EQ(a.tokens, std::vector<int64_t>(seq.begin() + 4, seq.end()));
}

TEST(Generator, SeededSamplingIsReproducible) {
    auto lm = tiny_model(Architecture::llama);
    GenerationParams p;
    p.max_tokens = 12;
    p.sampling.temperature = 1.0;
    p.sampling.top_p = 0.95;
    p.sampling.seed = 1234;
    auto a = generate(lm, kPrompt, p), b = generate(lm, kPrompt, p);
    EXPECT_EQ(a.tokens, b.tokens);
    bool any_different = false;
    for (uint64_t seed = 1; seed < 6 && !any_different; ++seed) {
        p.sampling.seed = seed;
        any_different = generate(lm, kPrompt, p).tokens != a.tokens;
    }
    EXPECT_TRUE(any_different) << "five other seeds all gave the same sample";
}

TEST(Generator, StopsAtEosWithoutEmittingIt) {
    auto lm = tiny_model();
    GenerationParams p;
    p.max_tokens = 10;
    p.sampling.temperature = 0;
    auto free_run = generate(lm, kPrompt, p);
    // Use the first token that did not occur before it as EOS.
    size_t k = 1;
    while (k < free_run.tokens.size() &&
           std::find(free_run.tokens.begin(), free_run.tokens.begin() + k, free_run.tokens[k]) !=
               free_run.tokens.begin() + k)
        ++k;
    ASSERT_LT(k, free_run.tokens.size());
    p.eos_ids = {free_run.tokens[k]};
    auto r = generate(lm, kPrompt, p);
    EXPECT_EQ(r.finish_reason, "stop");
    EXPECT_EQ(r.tokens, std::vector<int64_t>(free_run.tokens.begin(), free_run.tokens.begin() + k));
}

TEST(Generator, StreamsOnlyCompleteUtf8) {
    auto lm = tiny_model();
    GenerationParams p;
    p.max_tokens = 16;
    p.sampling.seed = 3;
    SplittingDecoder dec;
    std::string streamed;
    auto r = generate(lm, kPrompt, p, &dec, [&](int64_t, const std::string& text) {
        EXPECT_TRUE(is_valid_utf8(text)) << "emitted a partial character";
        streamed += text;
        return true;
    });
    EXPECT_EQ(streamed, r.text);
    EXPECT_TRUE(is_valid_utf8(r.text));
}

TEST(Generator, StopStringEndsGenerationAndIsNotIncluded) {
    auto lm = tiny_model();
    GenerationParams p;
    p.max_tokens = 10;
    p.sampling.temperature = 0;
    BracketDecoder dec;
    auto free_run = generate(lm, kPrompt, p, &dec);
    ASSERT_GE(free_run.tokens.size(), 4u);
    // Stop at the third token's text (its closing '>' and the next '<' straddle tokens).
    std::string stop = std::to_string(free_run.tokens[2]) + "><";
    p.stop = {stop};
    auto r = generate(lm, kPrompt, p, &dec);
    EXPECT_EQ(r.finish_reason, "stop");
    auto cut = free_run.text.find(stop);
    EXPECT_EQ(r.text, free_run.text.substr(0, cut));
}

TEST(Generator, CallbackCanCancel) {
    auto lm = tiny_model();
    GenerationParams p;
    p.max_tokens = 10;
    int calls = 0;
    auto r =
        generate(lm, kPrompt, p, nullptr, [&](int64_t, const std::string&) { return ++calls < 3; });
    EXPECT_EQ(r.finish_reason, "cancelled");
    EXPECT_EQ(r.tokens.size(), 3u);
}

TEST(Generator, RejectsBadRequests) {
    auto lm = tiny_model();
    GenerationParams p;
    EXPECT_THROW(generate(lm, {}, p), Error);        // empty prompt
    EXPECT_THROW(generate(lm, {5, 300}, p), Error);  // id outside the vocabulary
    p.max_tokens = 5000;                             // beyond max_position_embeddings
    EXPECT_THROW(generate(lm, kPrompt, p), Error);
    p.max_tokens = 4;
    p.stop = {"x"};  // stop strings need a decoder
    EXPECT_THROW(generate(lm, kPrompt, p), Error);
}
