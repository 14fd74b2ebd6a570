// The key/value cache for incremental decoding.
//
// Keys and values of every layer are stored after RoPE, in preallocated buffers of
// (B, n_kv, capacity, hd), so a decode step writes one slice and reads a narrow view.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "model/model_config.h"

namespace llmtune::model {

class KVCache {
  public:
    KVCache(const ModelConfig& cfg, int64_t batch, int64_t capacity, torch::TensorOptions options);

    int64_t length() const { return length_; }  // positions already cached
    int64_t capacity() const { return capacity_; }

    // Writes k, v (B, n_kv, T, hd) for `layer` at [length, length+T) and returns views of the
    // whole cached range (B, n_kv, length+T, hd). commit(T) then advances length.
    std::pair<torch::Tensor, torch::Tensor> append(int64_t layer, const torch::Tensor& k,
                                                   const torch::Tensor& v);
    void commit(int64_t t) { length_ += t; }
    void reset() { length_ = 0; }

  private:
    std::vector<torch::Tensor> keys_, values_;
    int64_t capacity_;
    int64_t length_ = 0;
};

}  // namespace llmtune::model
