#include "infer/generator.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "common/error.h"
#include "common/json_file.h"
#include "common/utf8.h"
#include "infer/stop_strings.h"
#include "model/kv_cache.h"

namespace llmtune::infer {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

std::vector<int64_t> load_eos_ids(const std::string& model_dir, const model::ModelConfig& cfg) {
    auto path = std::filesystem::path(model_dir) / "generation_config.json";
    if (std::filesystem::exists(path)) {
        json g = read_json_file(path.string());
        if (g.is_object() && g.contains("eos_token_id")) {
            const json& e = g["eos_token_id"];
            std::vector<int64_t> ids;
            if (e.is_number_integer()) ids.push_back(e.get<int64_t>());
            if (e.is_array())
                for (const auto& v : e)
                    if (v.is_number_integer()) ids.push_back(v.get<int64_t>());
            if (!e.is_null() && ids.empty())
                throw_invalid(path.string() + ": eos_token_id must be an id or a list of ids");
            if (!ids.empty()) return ids;
        }
    }
    return cfg.eos_token_ids;
}

GenerationResult generate(model::CausalLM& lm, const std::vector<int64_t>& prompt,
                          const GenerationParams& params, const TokenDecoder* decoder,
                          const TokenCallback& on_token) {
    const auto& cfg = lm->config();
    params.sampling.validate();
    if (prompt.empty()) throw_invalid("the prompt is empty", "give at least one token");
    if (params.max_tokens < 1) throw_invalid("max_tokens must be at least 1");
    // Bounds the KV cache even for models whose RoPE scaling has no fixed context.
    constexpr int64_t kMaxTokens = 1 << 20;
    if (params.max_tokens > kMaxTokens)
        throw_invalid("max_tokens is " + std::to_string(params.max_tokens) + "; at most " +
                      std::to_string(kMaxTokens) + " are supported");
    if (!params.stop.empty() && !decoder)
        throw_invalid("stop strings need a tokenizer to decode text",
                      "load the model with its tokenizer");
    for (int64_t id : prompt)
        if (id < 0 || id >= cfg.vocab_size)
            throw_invalid("prompt token id " + std::to_string(id) +
                          " is outside the vocabulary [0, " + std::to_string(cfg.vocab_size) + ")");
    const int64_t total = static_cast<int64_t>(prompt.size()) + params.max_tokens;
    if (total > cfg.max_position_embeddings && cfg.rope_scaling.type != "dynamic")
        throw_invalid("prompt (" + std::to_string(prompt.size()) + " tokens) plus max_tokens (" +
                          std::to_string(params.max_tokens) + ") exceeds the model's context of " +
                          std::to_string(cfg.max_position_embeddings) + " positions",
                      "shorten the prompt or lower max_tokens");

    c10::InferenceMode inference;
    const auto options = lm->options();
    model::KVCache cache(cfg, 1, total, options);
    Sampler sampler(params.sampling);
    StopMatcher stops(params.stop);
    Utf8Stream utf8;
    std::vector<int64_t> context = prompt;
    size_t decoded_bytes = 0;

    GenerationResult r;
    r.prompt_tokens = static_cast<int64_t>(prompt.size());
    r.finish_reason = "length";
    auto t0 = std::chrono::steady_clock::now();
    auto ids = torch::tensor(prompt, torch::kInt64).to(options.device()).unsqueeze(0);
    auto logits = lm->forward({ids, {}, {}, &cache, /*last_position_only=*/true});  // (1, 1, V)
    logits = logits.to(torch::kCPU);  // waits for the device, so the timing is honest
    r.prefill_seconds = seconds_since(t0);

    auto t1 = std::chrono::steady_clock::now();
    for (int64_t step = 0; step < params.max_tokens; ++step) {
        int64_t tok = sampler.sample(logits[0][0], context);
        if (std::find(params.eos_ids.begin(), params.eos_ids.end(), tok) != params.eos_ids.end()) {
            r.finish_reason = "stop";
            break;
        }
        context.push_back(tok);
        r.tokens.push_back(tok);
        std::string text;
        if (decoder) {
            // Decode everything generated so far and take the new bytes: correct for
            // tokenizers whose pieces depend on their neighbours (e.g. a leading space).
            std::string bytes = decoder->decode(r.tokens);
            if (bytes.size() > decoded_bytes) text = utf8.push(bytes.substr(decoded_bytes));
            decoded_bytes = std::max(decoded_bytes, bytes.size());
            text = stops.push(text);
            r.text += text;
        }
        bool go_on = on_token ? on_token(tok, text) : true;
        if (stops.stopped()) {
            r.finish_reason = "stop";
            break;
        }
        if (!go_on) {
            r.finish_reason = "cancelled";
            break;
        }
        if (step + 1 == params.max_tokens) break;  // no forward pass for a token never sampled
        auto next = torch::tensor({tok}, torch::kInt64).to(options.device()).view({1, 1});
        logits = lm->forward({next, {}, {}, &cache, true}).to(torch::kCPU);
    }
    if (decoder && !stops.stopped()) {
        std::string tail = stops.push(utf8.finish());
        tail += stops.flush();
        if (!tail.empty()) {
            r.text += tail;
            if (on_token) on_token(-1, tail);  // -1: text with no new token
        }
    }
    r.decode_seconds = seconds_since(t1);
    return r;
}

}  // namespace llmtune::infer
