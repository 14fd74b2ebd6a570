// The decoder-only transformer shared by Llama, Mistral, Qwen2 and Qwen3, on libtorch.
//
// Module and parameter names are exactly the Hugging Face ones, so named_parameters() yields
// the checkpoint keys ("model.layers.0.self_attn.q_proj.weight", ...).
//
// Legend for shape comments: B batch, T new positions, S cached+new positions, H hidden size,
// nh query heads, nkv key/value heads, g = nh/nkv, hd head_dim, I intermediate size, V vocab.
#pragma once

#include <torch/torch.h>

#include "model/kv_cache.h"
#include "model/model_config.h"
#include "model/rope.h"

namespace llmtune::model {

struct LoraConfig;  // model/lora.h

// y = x W^T + b with W (out, in), as torch.nn.Linear; parameters created uninitialized so
// that loading a 1B model does not first pay for a random init.
//
// Optionally carries a LoRA adapter (model/lora.h): submodules lora_A (r, in) and lora_B
// (out, r), and then y += (dropout(x) A^T B^T) * lora_scaling, computed in
// adapter_compute_dtype(x).
class LinearImpl : public torch::nn::Module {
  public:
    LinearImpl(int64_t in, int64_t out, bool bias, torch::TensorOptions options);
    torch::Tensor forward(const torch::Tensor& x);
    // forward, with `xa` = adapter_input(x) already computed: projections that read the same
    // input (q/k/v, gate/up) share one cast of it to the compute dtype, so the forward casts
    // it once and autograd keeps one copy (its gradient is summed in that dtype and cast back
    // once). An `xa` of another dtype (or undefined) is recast here.
    torch::Tensor forward_shared(const torch::Tensor& x, const torch::Tensor& xa);
    // x in the adapter's compute dtype (x itself when the dtypes agree); undefined without an
    // adapter.
    torch::Tensor adapter_input(const torch::Tensor& x) const;
    // The dtype the LoRA term is computed in: the adapter dtype, except that f32 adapters on
    // a bf16 or f16 input compute in the input's dtype, as under HF Trainer's bf16/fp16
    // autocast (the f32 weights are the master copy; gradients reach them through the cast).
    // Requires an adapter.
    torch::ScalarType adapter_compute_dtype(const torch::Tensor& x) const;
    torch::Tensor weight, bias;

    // Registers lora_A (Kaiming-uniform, a = sqrt(5), drawn in f32 from `gen`) and lora_B
    // (zeros) in config.dtype on the weight's device, and freezes weight and bias. Defined in
    // lora.cpp. conflict if an adapter is already present.
    void add_lora(const LoraConfig& config, at::Generator gen);
    // Unregisters the adapter (merge_lora folds it into the weight first).
    void remove_lora();
    bool has_lora() const { return lora_A != nullptr; }

    std::shared_ptr<LinearImpl> lora_A, lora_B;  // null without an adapter
    double lora_scaling = 0.0;
    double lora_dropout = 0.0;
};
TORCH_MODULE(Linear);

class EmbeddingImpl : public torch::nn::Module {
  public:
    EmbeddingImpl(int64_t vocab, int64_t dim, torch::TensorOptions options);
    torch::Tensor forward(const torch::Tensor& ids);  // (B, T) -> (B, T, H)
    torch::Tensor weight;
};
TORCH_MODULE(Embedding);

// RMSNorm computed in float32 and cast back, as transformers' LlamaRMSNorm.
class RMSNormImpl : public torch::nn::Module {
  public:
    RMSNormImpl(int64_t dim, double eps, torch::TensorOptions options);
    torch::Tensor forward(const torch::Tensor& x);
    torch::Tensor weight;
    double eps;
};
TORCH_MODULE(RMSNorm);

class AttentionImpl : public torch::nn::Module {
  public:
    AttentionImpl(const ModelConfig& cfg, torch::TensorOptions options);
    // x (B, T, H); cos/sin (B, 1, T, hd); bias additive, broadcastable to (B, 1, T, S) or
    // undefined for "attend to everything"; cache may be null.
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos,
                          const torch::Tensor& sin, const torch::Tensor& bias, KVCache* cache,
                          int64_t layer);
    Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
    RMSNorm q_norm{nullptr}, k_norm{nullptr};  // Qwen3 only

  private:
    int64_t nh_, nkv_, hd_;
};
TORCH_MODULE(Attention);

class MlpImpl : public torch::nn::Module {
  public:
    MlpImpl(const ModelConfig& cfg, torch::TensorOptions options);
    torch::Tensor forward(const torch::Tensor& x);  // down(silu(gate(x)) * up(x))
    Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(Mlp);

class DecoderLayerImpl : public torch::nn::Module {
  public:
    DecoderLayerImpl(const ModelConfig& cfg, torch::TensorOptions options);
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos,
                          const torch::Tensor& sin, const torch::Tensor& bias, KVCache* cache,
                          int64_t layer);
    Attention self_attn{nullptr};
    Mlp mlp{nullptr};
    RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
};
TORCH_MODULE(DecoderLayer);

// The "model." prefix of the checkpoint: embeddings, layers, final norm.
class DecoderStackImpl : public torch::nn::Module {
  public:
    DecoderStackImpl(const ModelConfig& cfg, torch::TensorOptions options);
    Embedding embed_tokens{nullptr};
    torch::nn::ModuleList layers;
    RMSNorm norm{nullptr};
};
TORCH_MODULE(DecoderStack);

struct ForwardArgs {
    torch::Tensor input_ids;          // (B, T) int64
    torch::Tensor position_ids;       // (B, T); default: cache length + [0, T)
    torch::Tensor attention_bias;     // additive (B|1, 1, T, S); default: causal (+ sliding window)
    KVCache* cache = nullptr;         // when set, keys/values are appended and attended to
    bool last_position_only = false;  // compute logits for the last position only
};

class CausalLMImpl : public torch::nn::Module {
  public:
    CausalLMImpl(const ModelConfig& cfg, torch::TensorOptions options);

    // Final hidden states after the last norm: (B, T, H).
    torch::Tensor hidden_states(const ForwardArgs& args);
    // Logits in float32: (B, T, V), or (B, 1, V) with last_position_only.
    torch::Tensor forward(const ForwardArgs& args);
    torch::Tensor lm_head_weight() const;  // the embedding matrix when tied

    const ModelConfig& config() const { return cfg_; }
    torch::TensorOptions options() const { return options_; }

    // Gradient checkpointing (model/layer_checkpoint.h): when on, a training forward with
    // gradients keeps only each decoder layer's input and recomputes the layer in backward.
    // Off by default; evaluation and generation are unaffected.
    void set_gradient_checkpointing(bool on) { gradient_checkpointing_ = on; }
    bool gradient_checkpointing() const { return gradient_checkpointing_; }

    DecoderStack model{nullptr};
    Linear lm_head{nullptr};  // null when tie_word_embeddings

  private:
    ModelConfig cfg_;
    torch::TensorOptions options_;
    Rope rope_;
    bool gradient_checkpointing_ = false;
};
TORCH_MODULE(CausalLM);

// The causal (and sliding-window) additive mask for queries at positions
// [past, past+T) over keys [0, past+T): (1, 1, T, past+T).
torch::Tensor causal_bias(int64_t past, int64_t t, int64_t window, torch::TensorOptions options);

}  // namespace llmtune::model
