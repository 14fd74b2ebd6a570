#include "model/decoder.h"

#include <cmath>
#include <limits>

#include "model/fused_norm_rope.h"
#include "model/gemv.h"
#include "model/inference_kernels.h"
#include "model/layer_checkpoint.h"
#include "model/swiglu.h"
#include "model/torch_compat.h"

namespace llmtune::model {

LinearImpl::LinearImpl(int64_t in, int64_t out, bool has_bias, torch::TensorOptions options) {
    weight = register_parameter("weight", torch::empty({out, in}, options));
    if (has_bias) bias = register_parameter("bias", torch::empty({out}, options));
}

namespace {

// The inference-only kernels apply without grad, except in a checkpointed layer's forward,
// which must compute exactly what its recomputation with grad computes.
bool fused_inference(const torch::Tensor& x) {
    return use_inference_kernels(x) && !in_checkpointed_forward();
}

}  // namespace

torch::ScalarType LinearImpl::adapter_compute_dtype(const torch::Tensor& x) const {
    const auto adapter = lora_A->weight.scalar_type();
    // As HF Trainer's bf16/fp16 autocast with PEFT: f32 adapters on a reduced-precision
    // activation compute in the activation's dtype.
    const bool reduced = x.scalar_type() == torch::kBFloat16 || x.scalar_type() == torch::kHalf;
    return reduced && adapter == torch::kFloat32 ? x.scalar_type() : adapter;
}

torch::Tensor LinearImpl::adapter_input(const torch::Tensor& x) const {
    return lora_A ? x.to(adapter_compute_dtype(x)) : torch::Tensor();
}

torch::Tensor LinearImpl::forward(const torch::Tensor& x) { return forward_shared(x, {}); }

torch::Tensor LinearImpl::forward_shared(const torch::Tensor& x, const torch::Tensor& shared_xa) {
    auto y = can_use_single_row_linear(x, weight) && !in_checkpointed_forward()
                 ? linear_single_row(x, weight, bias)
                 : torch::linear(x, weight, bias);
    if (!lora_A) return y;
    // The LoRA term: (..., in) -> (..., r) -> (..., out), in the compute dtype
    // (adapter_compute_dtype). With a bf16 base and f32 adapters that is bf16, as autocast
    // runs PEFT: A and B are rounded to bf16 for the products (tiny tensors), x and the
    // (..., out) term never get an f32 copy, and the gradients flow back through the casts to
    // the f32 master weights. With an f32 base everything stays f32.
    // Dropout only where it can matter, training with gradients (PEFT's nn.Dropout in train
    // mode); generation and evaluation run without grad and see the deterministic adapter.
    // Each projection draws its own mask, also on a shared input (PEFT: one Dropout each).
    const auto dtype = adapter_compute_dtype(x);
    auto xa =
        shared_xa.defined() && shared_xa.scalar_type() == dtype ? shared_xa : adapter_input(x);
    if (lora_dropout > 0 && is_training() &&
        (torch::GradMode::is_enabled() || in_checkpointed_forward()))
        xa = torch::dropout(xa, lora_dropout, /*train=*/true);
    // The scaling is folded into B (out, r) rather than applied to the (..., out) product: the
    // same value up to rounding, at a fraction of the elementwise work forward and back.
    auto delta = torch::linear(torch::linear(xa, lora_A->weight.to(dtype)),
                               (lora_B->weight * lora_scaling).to(dtype));
    // Added in place and rounded once to y's dtype (as PEFT's result + lora term, then
    // .to(result dtype)): no separate cast of the (..., out) term, no new tensor.
    return y.add_(delta);
}

namespace {

// One cast of a shared projection input to the adapter dtype, for the first projection with
// an adapter (the others recast only if their adapter dtype differs).
torch::Tensor shared_adapter_input(const torch::Tensor& x,
                                   std::initializer_list<const LinearImpl*> projections) {
    for (const auto* p : projections)
        if (p->has_lora()) return p->adapter_input(x);
    return {};
}

}  // namespace

EmbeddingImpl::EmbeddingImpl(int64_t vocab, int64_t dim, torch::TensorOptions options) {
    weight = register_parameter("weight", torch::empty({vocab, dim}, options));
}

torch::Tensor EmbeddingImpl::forward(const torch::Tensor& ids) {
    return torch::embedding(weight, ids);
}

RMSNormImpl::RMSNormImpl(int64_t dim, double eps_, torch::TensorOptions options) : eps(eps_) {
    weight = register_parameter("weight", torch::ones({dim}, options));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
    if (fused_inference(x) && x.scalar_type() == weight.scalar_type())
        return rms_norm_inference(x, weight, eps);
    // bf16: one fused pass forward and back (model/fused_norm_rope.h); f32 keeps the chain.
    if (x.scalar_type() == torch::kBFloat16 && fused_rms_norm_supports(x, weight))
        return fused_rms_norm(x, weight, eps);
    auto xf = x.to(torch::kFloat32);
    auto normed = xf * torch::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
    return weight * normed.to(x.scalar_type());
}

AttentionImpl::AttentionImpl(const ModelConfig& cfg, torch::TensorOptions options)
    : nh_(cfg.num_attention_heads), nkv_(cfg.num_key_value_heads), hd_(cfg.head_dim) {
    const int64_t h = cfg.hidden_size;
    q_proj = register_module("q_proj", Linear(h, cfg.q_dim(), cfg.qkv_bias, options));
    k_proj = register_module("k_proj", Linear(h, cfg.kv_dim(), cfg.qkv_bias, options));
    v_proj = register_module("v_proj", Linear(h, cfg.kv_dim(), cfg.qkv_bias, options));
    o_proj = register_module("o_proj", Linear(cfg.q_dim(), h, cfg.o_bias, options));
    if (cfg.qk_norm) {
        q_norm = register_module("q_norm", RMSNorm(hd_, cfg.rms_norm_eps, options));
        k_norm = register_module("k_norm", RMSNorm(hd_, cfg.rms_norm_eps, options));
    }
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                     const torch::Tensor& sin, const torch::Tensor& bias,
                                     KVCache* cache, int64_t layer) {
    const int64_t b = x.size(0), t = x.size(1);
    const auto xa = shared_adapter_input(x, {q_proj.get(), k_proj.get(), v_proj.get()});
    auto q = q_proj->forward_shared(x, xa).view({b, t, nh_, hd_});   // (B, T, nh, hd)
    auto k = k_proj->forward_shared(x, xa).view({b, t, nkv_, hd_});  // (B, T, nkv, hd)
    auto v = v_proj->forward_shared(x, xa).view({b, t, nkv_, hd_});
    if (q_norm) {
        q = q_norm(q);
        k = k_norm(k);
    }
    const bool fused = fused_inference(x);
    // Without grad: the inference kernel; bf16 with grad: the fused Function (one pass each
    // way, model/fused_norm_rope.h); f32: the unfused expression.
    auto rope = [&](const torch::Tensor& t) {
        if (fused) return rope_inference(t, cos, sin);
        if (t.scalar_type() == torch::kBFloat16 && fused_rope_supports(t, cos, sin))
            return fused_rope(t, cos, sin);
        return Rope::apply(t, cos, sin);
    };
    q = rope(q.transpose(1, 2));  // (B, nh, T, hd)
    k = rope(k.transpose(1, 2));  // (B, nkv, T, hd)
    v = v.transpose(1, 2);
    if (cache) std::tie(k, v) = cache->append(layer, k, v);  // (B, nkv, S, hd)
    const double scale = 1.0 / std::sqrt(static_cast<double>(hd_));
    // One query position seeing every key (decoding): the fused kernel; otherwise matmuls.
    const bool one_query =
        fused && t == 1 && !bias.defined() && k.stride(3) == 1 && v.stride(3) == 1;
    auto out = one_query ? single_query_attention(q, k, v, scale)
                         : compat::grouped_attention(q, k, v, bias, scale);
    return o_proj(out.transpose(1, 2).reshape({b, t, nh_ * hd_}));
}

MlpImpl::MlpImpl(const ModelConfig& cfg, torch::TensorOptions options) {
    gate_proj = register_module("gate_proj",
                                Linear(cfg.hidden_size, cfg.intermediate_size, false, options));
    up_proj =
        register_module("up_proj", Linear(cfg.hidden_size, cfg.intermediate_size, false, options));
    down_proj = register_module("down_proj",
                                Linear(cfg.intermediate_size, cfg.hidden_size, false, options));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
    const auto xa = shared_adapter_input(x, {gate_proj.get(), up_proj.get()});
    // (B, T, I) -> (B, T, H)
    auto gate = gate_proj->forward_shared(x, xa), up = up_proj->forward_shared(x, xa);
    // bf16: one fused pass forward and back (model/swiglu.h); f32 keeps the unfused pair.
    const bool fused = gate.scalar_type() == torch::kBFloat16 && swiglu_supports(gate, up);
    return down_proj(fused ? swiglu(gate, up) : torch::silu(gate) * up);
}

DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& cfg, torch::TensorOptions options) {
    self_attn = register_module("self_attn", Attention(cfg, options));
    mlp = register_module("mlp", Mlp(cfg, options));
    input_layernorm =
        register_module("input_layernorm", RMSNorm(cfg.hidden_size, cfg.rms_norm_eps, options));
    post_attention_layernorm = register_module("post_attention_layernorm",
                                               RMSNorm(cfg.hidden_size, cfg.rms_norm_eps, options));
}

torch::Tensor DecoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                        const torch::Tensor& sin, const torch::Tensor& bias,
                                        KVCache* cache, int64_t layer) {
    auto h = x + self_attn(input_layernorm(x), cos, sin, bias, cache, layer);
    return h + mlp(post_attention_layernorm(h));
}

DecoderStackImpl::DecoderStackImpl(const ModelConfig& cfg, torch::TensorOptions options) {
    embed_tokens =
        register_module("embed_tokens", Embedding(cfg.vocab_size, cfg.hidden_size, options));
    layers = register_module("layers", torch::nn::ModuleList());
    for (int64_t i = 0; i < cfg.num_hidden_layers; ++i)
        layers->push_back(DecoderLayer(cfg, options));
    norm = register_module("norm", RMSNorm(cfg.hidden_size, cfg.rms_norm_eps, options));
}

CausalLMImpl::CausalLMImpl(const ModelConfig& cfg, torch::TensorOptions options)
    : cfg_(cfg), options_(options), rope_(cfg) {
    model = register_module("model", DecoderStack(cfg, options));
    if (!cfg.tie_word_embeddings)
        lm_head =
            register_module("lm_head", Linear(cfg.hidden_size, cfg.vocab_size, false, options));
}

torch::Tensor CausalLMImpl::lm_head_weight() const {
    return lm_head ? lm_head->weight : model->embed_tokens->weight;
}

torch::Tensor causal_bias(int64_t past, int64_t t, int64_t window, torch::TensorOptions options) {
    auto dev = options.device();
    auto qpos = torch::arange(past, past + t, torch::dtype(torch::kInt64).device(dev)).unsqueeze(1);
    auto kpos = torch::arange(0, past + t, torch::dtype(torch::kInt64).device(dev)).unsqueeze(0);
    auto allowed = kpos <= qpos;  // (T, S)
    if (window > 0) allowed = allowed & (qpos - kpos < window);
    // The dtype's lowest finite value rather than -inf, as transformers does, so a row with
    // nothing allowed gives a uniform softmax instead of NaN.
    double lowest = options.dtype() == torch::kBFloat16  ? -3.3895313892515355e38
                    : options.dtype() == torch::kFloat16 ? -65504.0
                                                         : std::numeric_limits<float>::lowest();
    auto zero = torch::zeros({}, options);
    auto neg = torch::full({}, lowest, options);
    return torch::where(allowed, zero, neg).view({1, 1, t, past + t});
}

torch::Tensor CausalLMImpl::hidden_states(const ForwardArgs& args) {
    const int64_t b = args.input_ids.size(0), t = args.input_ids.size(1);
    const int64_t past = args.cache ? args.cache->length() : 0;
    auto positions = args.position_ids;
    if (!positions.defined())
        positions =
            torch::arange(past, past + t, torch::dtype(torch::kInt64).device(options_.device()))
                .unsqueeze(0)
                .expand({b, t});
    auto bias = args.attention_bias;
    // A single new position with no window may attend to every cached key: no mask needed.
    bool needs_mask = t > 1 || (cfg_.sliding_window > 0 && past + t > cfg_.sliding_window);
    if (!bias.defined() && needs_mask) bias = causal_bias(past, t, cfg_.sliding_window, options_);
    auto [cos, sin] = rope_.cos_sin(positions, options_.dtype().toScalarType());
    auto h = model->embed_tokens(args.input_ids);  // (B, T, H)
    // As transformers: checkpoint only a training forward that records gradients.
    const bool checkpoint =
        gradient_checkpointing_ && is_training() && torch::GradMode::is_enabled() && !args.cache;
    for (size_t i = 0; i < model->layers->size(); ++i) {
        auto layer = model->layers->ptr<DecoderLayerImpl>(i);
        h = checkpoint ? checkpointed_layer_forward(layer, h, cos, sin, bias)
                       : layer->forward(h, cos, sin, bias, args.cache, static_cast<int64_t>(i));
    }
    if (args.cache) args.cache->commit(t);
    return model->norm(h);
}

torch::Tensor CausalLMImpl::forward(const ForwardArgs& args) {
    auto h = hidden_states(args);
    if (args.last_position_only) h = h.narrow(1, h.size(1) - 1, 1);
    const auto& w = lm_head_weight();
    auto logits =
        can_use_single_row_linear(h, w) ? linear_single_row(h, w, {}) : torch::linear(h, w);
    return logits.to(torch::kFloat32);
}

}  // namespace llmtune::model
