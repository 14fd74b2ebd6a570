// Autoregressive generation with a KV cache: prefill the prompt once, then one position per
// step. Stops at max_tokens, an EOS id, a stop string, or when the callback asks.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "infer/sampler.h"
#include "model/decoder.h"

namespace llmtune::infer {

// Turns token ids into bytes. Implemented by the tokenizer; generation over bare ids works
// without one (no text, no stop strings).
class TokenDecoder {
  public:
    virtual ~TokenDecoder() = default;
    // The bytes of `ids` decoded together (special tokens skipped). May end inside a UTF-8
    // character; must be prefix-stable: decode(a) is a prefix of decode(a + b).
    virtual std::string decode(const std::vector<int64_t>& ids) const = 0;
};

struct GenerationParams {
    int64_t max_tokens = 256;  // new tokens at most
    SamplingParams sampling;
    std::vector<int64_t> eos_ids;   // usually from generation_config.json
    std::vector<std::string> stop;  // stop strings (need a decoder)
};

struct GenerationResult {
    std::vector<int64_t> tokens;  // generated ids, without the EOS that ended them
    std::string text;             // decoded text (empty without a decoder)
    std::string finish_reason;    // "stop" (EOS or stop string), "length", "cancelled"
    int64_t prompt_tokens = 0;
    double prefill_seconds = 0;  // the prompt's forward pass
    double decode_seconds = 0;   // every later step, sampling included
};

// Called for each generated token with the text it completes (always whole UTF-8 characters,
// possibly empty). Returning false stops generation with finish_reason "cancelled".
using TokenCallback = std::function<bool(int64_t token, const std::string& text)>;

// generation_config.json's eos_token_id (one id or a list), falling back to config.json's.
std::vector<int64_t> load_eos_ids(const std::string& model_dir, const model::ModelConfig& cfg);

GenerationResult generate(model::CausalLM& lm, const std::vector<int64_t>& prompt,
                          const GenerationParams& params, const TokenDecoder* decoder = nullptr,
                          const TokenCallback& on_token = nullptr);

}  // namespace llmtune::infer
