// ModelCache: loaded models (base + optional PEFT adapter) kept in memory for the server, least
// recently used first out when the budget is exceeded.
//
// Ordering and concurrency: get() is thread-safe; loading happens outside the cache's lock, and
// two requests for the same model while it loads both load it (the second is dropped). An entry
// is handed out as a shared_ptr, so eviction never frees a model a request is still using: its
// memory goes when the last user finishes. Each entry has a mutex that serialises generation on
// it (the torch module is shared). A model whose weights alone exceed the budget is still
// served, alone in the cache.
#pragma once

#include <list>
#include <memory>
#include <mutex>
#include <string>

#include "infer/inference_engine.h"
#include "model/decoder.h"
#include "model/model_config.h"
#include "tokenizer/jinja/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace llmtune::infer {

struct LoadedModel {
    ModelRef ref;
    model::ModelConfig config;
    model::CausalLM lm{nullptr};
    std::shared_ptr<tokenizer::Tokenizer> tok;
    std::shared_ptr<tokenizer::ChatTemplate> chat_template;  // null when the model has none
    tokenizer::ChatTemplateInputs special;  // bos/eos/pad tokens for the template
    std::vector<int64_t> eos_ids;
    uint64_t bytes = 0;  // parameter bytes, measured from the loaded tensors
    std::mutex generate_mutex;
};

class ModelCache {
  public:
    explicit ModelCache(uint64_t budget_bytes) : budget_(budget_bytes) {}
    std::shared_ptr<LoadedModel> get(const ModelRef& ref);
    uint64_t resident_bytes() const;

  private:
    static std::shared_ptr<LoadedModel> load(const ModelRef& ref);
    uint64_t budget_;
    mutable std::mutex mutex_;
    std::list<std::shared_ptr<LoadedModel>> lru_;  // most recently used first
};

}  // namespace llmtune::infer
