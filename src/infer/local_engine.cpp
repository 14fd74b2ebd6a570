// The in-process InferenceEngine: models from a ModelCache, generation with infer::generate.
#include <torch/torch.h>

#include "common/error.h"
#include "infer/generator.h"
#include "infer/inference_engine.h"
#include "infer/model_cache.h"
#include "infer/tokenizer_decoder.h"

namespace llmtune::infer {

namespace {

class LocalEngine : public InferenceEngine {
  public:
    explicit LocalEngine(const EngineOptions& o) : cache_(o.memory_budget_bytes) {}

    std::vector<int64_t> encode_chat(const ModelRef& ref, const ordered_json& messages) override {
        auto m = cache_.get(ref);
        if (!m->chat_template)
            throw Error(ErrorKind::invalid_input,
                        "the model has no chat template; use /v1/completions with a prompt");
        tokenizer::ChatTemplateInputs in = m->special;
        in.messages = messages;
        in.add_generation_prompt = true;
        // The template writes BOS itself where the model wants one.
        return m->tok->encode(m->chat_template->render(in), /*add_special_tokens=*/false);
    }

    std::vector<int64_t> encode_text(const ModelRef& ref, const std::string& prompt) override {
        return cache_.get(ref)->tok->encode(prompt, true);
    }

    int64_t context_length(const ModelRef& ref) override {
        return cache_.get(ref)->config.max_position_embeddings;
    }

    CompletionResult generate(const ModelRef& ref, const std::vector<int64_t>& prompt,
                              const CompletionParams& p, const TextCallback& on_text) override {
        auto m = cache_.get(ref);
        GenerationParams gp;
        gp.max_tokens = p.max_tokens;
        gp.sampling.temperature = p.temperature;
        gp.sampling.top_p = p.top_p;
        gp.sampling.seed = p.seed;
        gp.sampling.validate();
        gp.eos_ids = m->eos_ids;
        gp.stop = p.stop;
        TokenizerDecoder decoder(m->tok);
        std::lock_guard<std::mutex> lock(m->generate_mutex);
        torch::NoGradGuard no_grad;
        TokenCallback cb = nullptr;
        if (on_text)
            cb = [&](int64_t, const std::string& text) { return text.empty() || on_text(text); };
        GenerationResult r = infer::generate(m->lm, prompt, gp, &decoder, cb);
        CompletionResult out;
        out.text = r.text;
        out.finish_reason = r.finish_reason;
        out.prompt_tokens = static_cast<int64_t>(prompt.size());
        out.completion_tokens = static_cast<int64_t>(r.tokens.size());
        return out;
    }

  private:
    ModelCache cache_;
};

}  // namespace

std::unique_ptr<InferenceEngine> make_local_engine(const EngineOptions& options) {
    return std::make_unique<LocalEngine>(options);
}

}  // namespace llmtune::infer
