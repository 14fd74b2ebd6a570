// InferenceEngine: what the API server calls to run a model, without torch in its headers
// (the server layer must not include torch; DESIGN.md). make_local_engine() gives the
// in-process implementation over a ModelCache (model_cache.h).
//
// A model is named by a ModelRef: a Hugging Face model directory and optionally a PEFT adapter
// directory applied on top without merging (the base weights stay shared and untouched).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/json_file.h"

namespace llmtune::infer {

struct ModelRef {
    std::string model_dir;
    std::string adapter_dir;  // "" = the base model alone
};

struct CompletionParams {
    int64_t max_tokens = 256;
    double temperature = 1.0;  // 0 = greedy
    double top_p = 1.0;
    uint64_t seed = 0;
    std::vector<std::string> stop;
};

struct CompletionResult {
    std::string text;
    std::string finish_reason;  // "stop" | "length" (| "cancelled" when the callback stopped it)
    int64_t prompt_tokens = 0;
    int64_t completion_tokens = 0;
};

// Receives each piece of text as it is generated (whole UTF-8 characters); false stops.
using TextCallback = std::function<bool(const std::string& delta)>;

class InferenceEngine {
  public:
    virtual ~InferenceEngine() = default;
    // The prompt ids of a chat (the model's chat template with the generation prompt).
    // Loads the model into the cache. invalid_input for messages the template rejects.
    virtual std::vector<int64_t> encode_chat(const ModelRef& model, const ordered_json& messages) = 0;
    // The prompt ids of a plain text prompt (with the tokenizer's special tokens, e.g. BOS).
    virtual std::vector<int64_t> encode_text(const ModelRef& model, const std::string& prompt) = 0;
    // Generates from `prompt`; stops at EOS, a stop string, max_tokens or the callback.
    virtual CompletionResult generate(const ModelRef& model, const std::vector<int64_t>& prompt,
                                      const CompletionParams& params,
                                      const TextCallback& on_text = nullptr) = 0;
    // The model's context length (max_position_embeddings).
    virtual int64_t context_length(const ModelRef& model) = 0;
};

struct EngineOptions {
    uint64_t memory_budget_bytes = 8ull << 30;  // loaded weights kept at most (LRU beyond)
};

std::unique_ptr<InferenceEngine> make_local_engine(const EngineOptions& options);

}  // namespace llmtune::infer
