#include "model/kv_cache.h"

#include "common/error.h"

namespace llmtune::model {

KVCache::KVCache(const ModelConfig& cfg, int64_t batch, int64_t capacity,
                 torch::TensorOptions options)
    : capacity_(capacity) {
    for (int64_t i = 0; i < cfg.num_hidden_layers; ++i) {
        keys_.push_back(
            torch::empty({batch, cfg.num_key_value_heads, capacity, cfg.head_dim}, options));
        values_.push_back(
            torch::empty({batch, cfg.num_key_value_heads, capacity, cfg.head_dim}, options));
    }
}

std::pair<torch::Tensor, torch::Tensor> KVCache::append(int64_t layer, const torch::Tensor& k,
                                                        const torch::Tensor& v) {
    const int64_t t = k.size(2);
    if (length_ + t > capacity_)
        throw Error(ErrorKind::resource_exhausted,
                    "the KV cache holds " + std::to_string(capacity_) + " positions; " +
                        std::to_string(length_ + t) + " were needed",
                    "lower max_tokens or the prompt length");
    keys_[layer].narrow(2, length_, t).copy_(k);
    values_[layer].narrow(2, length_, t).copy_(v);
    return {keys_[layer].narrow(2, 0, length_ + t), values_[layer].narrow(2, 0, length_ + t)};
}

}  // namespace llmtune::model
