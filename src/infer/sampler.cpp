#include "infer/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_set>

#include "common/error.h"

namespace llmtune::infer {

void SamplingParams::validate() const {
    if (!(temperature >= 0 && temperature <= 100))
        throw_invalid("temperature must be in [0, 100], got " + std::to_string(temperature),
                      "use 0 for greedy decoding, about 0.7 for varied text");
    if (top_k < 0)
        throw_invalid("top_k must be >= 0 (0 disables it), got " + std::to_string(top_k));
    if (!(top_p > 0 && top_p <= 1))
        throw_invalid("top_p must be in (0, 1], got " + std::to_string(top_p),
                      "1 disables nucleus sampling");
    if (!(min_p >= 0 && min_p <= 1))
        throw_invalid("min_p must be in [0, 1], got " + std::to_string(min_p), "0 disables it");
    if (!(repetition_penalty > 0 && repetition_penalty <= 100))
        throw_invalid(
            "repetition_penalty must be in (0, 100], got " + std::to_string(repetition_penalty),
            "1 disables it; 1.1 is a common mild value");
}

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {
    params_.validate();
}

int64_t Sampler::sample(const torch::Tensor& logits_tensor, const std::vector<int64_t>& context) {
    auto cpu = logits_tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    const int64_t v = cpu.numel();
    std::vector<float> logits(cpu.data_ptr<float>(), cpu.data_ptr<float>() + v);

    if (params_.repetition_penalty != 1.0) {
        std::unordered_set<int64_t> seen(context.begin(), context.end());
        const float p = static_cast<float>(params_.repetition_penalty);
        for (int64_t id : seen) {
            if (id < 0 || id >= v) continue;
            float& s = logits[id];
            s = s < 0 ? s * p : s / p;
        }
    }
    if (params_.temperature == 0.0)
        return std::max_element(logits.begin(), logits.end()) - logits.begin();

    const float t = static_cast<float>(params_.temperature);
    for (float& s : logits)
        s /= t;

    // Candidates sorted by descending logit; the filters below only ever shorten this list.
    std::vector<int64_t> order(static_cast<size_t>(v));
    std::iota(order.begin(), order.end(), 0);
    size_t keep = order.size();
    auto by_logit = [&](int64_t a, int64_t b) { return logits[a] > logits[b]; };
    if (params_.top_k > 0 && params_.top_k < v) {
        std::partial_sort(order.begin(), order.begin() + params_.top_k, order.end(), by_logit);
        // Ties with the k-th logit are kept, as transformers' TopK does.
        float kth = logits[order[params_.top_k - 1]];
        auto ties_end = std::partition(order.begin() + params_.top_k, order.end(),
                                       [&](int64_t i) { return logits[i] >= kth; });
        keep = static_cast<size_t>(ties_end - order.begin());
    } else if (params_.top_p < 1.0 || params_.min_p > 0.0) {
        std::sort(order.begin(), order.end(), by_logit);
    }  // with no filter, `order` stays in id order: no sort needed

    auto softmax_over = [&](size_t n) {
        std::vector<double> probs(n);
        double mx = -std::numeric_limits<double>::infinity(), sum = 0;
        for (size_t i = 0; i < n; ++i)
            mx = std::max(mx, static_cast<double>(logits[order[i]]));
        for (size_t i = 0; i < n; ++i)
            sum += probs[i] = std::exp(static_cast<double>(logits[order[i]]) - mx);
        for (double& p : probs)
            p /= sum;
        return probs;
    };
    if (params_.top_p < 1.0) {
        // Drop the tail whose total probability is at most 1 - top_p; keep at least one.
        auto probs = softmax_over(keep);
        double tail = 0;
        size_t n = keep;
        while (n > 1 && tail + probs[n - 1] <= 1.0 - params_.top_p)
            tail += probs[--n];
        keep = n;
    }
    if (params_.min_p > 0.0) {
        auto probs = softmax_over(keep);
        const double floor = params_.min_p * probs[0];
        size_t n = 1;
        while (n < keep && probs[n] >= floor)
            ++n;
        keep = n;
    }
    auto probs = softmax_over(keep);
    double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
    double acc = 0;
    for (size_t i = 0; i < keep; ++i) {
        acc += probs[i];
        if (u < acc) return order[i];
    }
    return order[keep - 1];  // rounding left u just above the total
}

}  // namespace llmtune::infer
