#include "train/memory_model.h"

#include <algorithm>

namespace llmtune::train {

namespace {

bool targeted(const MethodShape& m, const std::string& name) {
    return std::find(m.lora_targets.begin(), m.lora_targets.end(), name) != m.lora_targets.end();
}

// Bytes kept of a projection group's shared input of width `in`, read by `consumers`.
double kept_input(const MemoryShape& s, double in, std::initializer_list<const char*> consumers) {
    if (!s.method.lora) return 4.0 * in;  // full fine-tuning is f32: saved once for dW
    int n = 0;
    for (const char* c : consumers)
        n += targeted(s.method, c) ? 1 : 0;
    if (n == 0) return 0;
    // The adapters compute in the base dtype (bf16 as under autocast), so they share the one
    // input tensor they read: f32 or bf16.
    return static_cast<double>(s.weight_bytes) * in;
}

}  // namespace

double layer_activation_bytes_per_token(const MemoryShape& s, int64_t positions) {
    const auto& c = s.model;
    const double h = static_cast<double>(c.hidden_size), i = static_cast<double>(c.intermediate_size);
    const double q = static_cast<double>(c.q_dim()), kv = static_cast<double>(c.kv_dim());
    const double b = static_cast<double>(s.weight_bytes);
    const double t = static_cast<double>(positions);
    // A bf16 base: the fused Functions (model/fused_norm_rope, swiglu, fused_softmax) keep
    // bf16 tensors and one f32 scale per normalized row; f32 keeps autograd's chain.
    const bool fused = s.weight_bytes == 2;
    double bytes = 2.0 * (fused ? 2.0 * h + 4.0 : 4.0 * h + 4.0);  // two RMSNorms: input + rsqrt
    if (!s.method.lora) bytes += 2.0 * 4.0 * h;  // + the normalized value for dW of the norm
    bytes += kept_input(s, h, {"q_proj", "k_proj", "v_proj"});
    bytes += kept_input(s, h, {"gate_proj", "up_proj"});
    bytes += kept_input(s, q, {"o_proj"});
    bytes += kept_input(s, i, {"down_proj"});
    bytes += b * (q + 2.0 * kv);  // q, k, v after RoPE
    const double heads = static_cast<double>(c.num_attention_heads + c.num_key_value_heads);
    if (c.qk_norm) bytes += fused ? 2.0 * (q + kv) + 4.0 * heads : 4.0 * (q + kv) + b * (q + kv);
    // The softmax output: f32, or the fused softmax's bf16 probabilities.
    if (s.materialized_attention)
        bytes += static_cast<double>(c.num_attention_heads) * t * (fused ? 2.0 : 4.0);
    bytes += (fused ? 2.0 : 3.0) * b * i;  // gate, up (and SiLU(gate) unfused)
    if (s.method.lora) {
        const double r = static_cast<double>(s.method.lora_r);
        bytes += 4.0 * r * static_cast<double>(s.method.lora_targets.size());
        if (s.lora_dropout > 0)  // the dropout mask and output per adapter input, base dtype
            for (const auto& name : s.method.lora_targets)
                bytes += 2.0 * b * (name == "o_proj" ? q : name == "down_proj" ? i : h);
    }
    return bytes;
}

MemoryBreakdown estimate_memory(const MemoryShape& s) {
    const auto& c = s.model;
    const ParameterCounts p = count_parameter_roles(c, s.method);
    const double b = static_cast<double>(s.weight_bytes);
    const double h = static_cast<double>(c.hidden_size), v = static_cast<double>(c.vocab_size);
    const double layers = static_cast<double>(c.num_hidden_layers);
    MemoryBreakdown m;
    m.runtime = s.runtime_bytes;
    m.dataset = s.dataset_bytes;
    m.weights = b * static_cast<double>(p.total) + 4.0 * static_cast<double>(p.lora);
    m.optimizer = 8.0 * static_cast<double>(p.trainable);
    m.gradients = 4.0 * static_cast<double>(p.trainable);

    const double tokens = static_cast<double>(s.batch_rows * s.positions);
    const double per_layer = layer_activation_bytes_per_token(s, s.positions) * tokens;
    // The final norm (f32 input, rsqrt; + normalized value when full) and its output.
    const double final_norm = tokens * ((b == 2 ? 2.0 : 4.0) * h + 4.0 +
                                        (s.method.lora ? 0.0 : 4.0 * h) + b * h);
    if (s.gradient_checkpointing)
        m.activations = layers * b * h * tokens + per_layer + final_norm;
    else
        m.activations = layers * per_layer + final_norm;

    // The fused lm_head loss (train/lm_head_loss_kernels.cpp): chunks of max(16, 2^24 / V)
    // target rows of logits in the base dtype, the hidden-state gradient (N, H) and, when the
    // lm_head trains, its f32 gradient (V, H), all prepared in forward.
    const double n = static_cast<double>(s.batch_targets);
    const double chunk = std::min(n, std::max(16.0, 16777216.0 / v));
    m.loss_buffers = chunk * v * b + n * h * b + n * h * b;  // logits, dh, the gathered states
    if (!s.method.lora) m.loss_buffers += 4.0 * v * h;
    const double mask = (s.packing ? static_cast<double>(s.batch_rows) : 1.0) *
                        static_cast<double>(s.positions * s.positions) * b;
    if (s.materialized_attention) {
        // Building one layer's scores: the product, the masked sum, then the f32 softmax.
        m.attention_transient = static_cast<double>(s.batch_rows * c.num_attention_heads) *
                                    static_cast<double>(s.positions * s.positions) * (2.0 * b) +
                                mask;
    }
    // Largest trained tensor: AdamW and clipping work on it with a few f32 temporaries; the
    // embedding's dense gradient (V, H) is added to the lm_head's at the end of backward.
    const double largest = s.method.lora
                               ? 4.0 * static_cast<double>(s.method.lora_r) *
                                     std::max<double>(c.intermediate_size, c.hidden_size)
                               : 4.0 * v * h;
    m.step_transient = 2.0 * largest;

    // What the fused loss saved in forward (dh and, when the lm_head trains, dw) stays until
    // the step's graph is released, after backward. With tied embeddings under full
    // fine-tuning the embedding's dense (V, H) gradient and its sum with the lm_head's are
    // two more f32 (V, H) tensors at the end of backward.
    double loss_saved = n * h * b;
    if (!s.method.lora) loss_saved += 4.0 * v * h;
    if (!s.method.lora && c.tie_word_embeddings) m.step_transient += 2.0 * 4.0 * v * h;
    const double persistent = m.runtime + m.dataset + m.weights + m.optimizer;
    // A layer's scores are freed when its attention returns, before the loss runs: the two
    // transients never coexist, so the forward high point holds the larger of them.
    m.forward_peak =
        persistent + m.activations + std::max(m.loss_buffers, m.attention_transient);
    m.backward_peak = persistent + m.gradients + loss_saved + m.step_transient;
    if (s.eval_rows > 0) {
        const double et = static_cast<double>(s.eval_rows * s.eval_positions);
        const double en = static_cast<double>(s.eval_targets);
        double layer = et * (b * h * 3.0 + b * 3.0 * static_cast<double>(c.intermediate_size));
        if (s.materialized_attention)
            layer += static_cast<double>(s.eval_rows * c.num_attention_heads) *
                     static_cast<double>(s.eval_positions * s.eval_positions) * (2.0 * b + 4.0);
        m.eval_peak = persistent + layer + std::min(en, std::max(16.0, 16777216.0 / v)) * v * b +
                      en * h * b;
    }
    m.peak = std::max({m.forward_peak, m.backward_peak, m.eval_peak});
    m.peak_phase = m.peak == m.forward_peak ? "forward"
                   : m.peak == m.backward_peak ? "backward"
                                               : "evaluation";
    return m;
}

}  // namespace llmtune::train
