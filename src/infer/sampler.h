// Choosing the next token from logits: greedy, or sampling with temperature, top-k, top-p and
// min-p, after a repetition penalty. Order and semantics follow transformers' logits
// processors (RepetitionPenalty, then Temperature, TopK, TopP, MinP).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <random>
#include <vector>

namespace llmtune::infer {

struct SamplingParams {
    double temperature = 1.0;         // 0 = greedy (argmax)
    int64_t top_k = 0;                // 0 = off
    double top_p = 1.0;               // 1 = off
    double min_p = 0.0;               // 0 = off
    double repetition_penalty = 1.0;  // 1 = off; > 1 discourages tokens already present
    uint64_t seed = 0;                // same seed, same model, same prompt: same output

    // invalid_input naming the parameter when a value is out of range.
    void validate() const;
};

class Sampler {
  public:
    explicit Sampler(const SamplingParams& params);

    // logits: (V,) float32 on any device. context: the prompt and the tokens generated so far.
    int64_t sample(const torch::Tensor& logits, const std::vector<int64_t>& context);

  private:
    SamplingParams params_;
    std::mt19937_64 rng_;
};

}  // namespace llmtune::infer
