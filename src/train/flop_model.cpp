#include "train/flop_model.h"

#include "common/error.h"

namespace llmtune::train {

namespace {

const std::vector<std::string>& projection_names() {
    static const std::vector<std::string> names = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                                   "gate_proj", "up_proj", "down_proj"};
    return names;
}

// (in, out) features of a projection.
std::pair<int64_t, int64_t> projection_shape(const model::ModelConfig& c, const std::string& name) {
    const int64_t h = c.hidden_size;
    if (name == "q_proj") return {h, c.q_dim()};
    if (name == "k_proj" || name == "v_proj") return {h, c.kv_dim()};
    if (name == "o_proj") return {c.q_dim(), h};
    if (name == "gate_proj" || name == "up_proj") return {h, c.intermediate_size};
    return {c.intermediate_size, h};  // down_proj
}

}  // namespace

std::vector<std::string> resolve_lora_targets(const std::vector<std::string>& targets) {
    std::vector<bool> on(projection_names().size(), false);
    for (const auto& t : targets) {
        if (t == "all-linear") {
            on.assign(on.size(), true);
            continue;
        }
        bool found = false;
        for (size_t i = 0; i < projection_names().size(); ++i) {
            const auto& n = projection_names()[i];
            if (t == n || t + "_proj" == n) on[i] = found = true;
        }
        if (!found)
            throw_invalid("unknown LoRA target module '" + t + "'",
                          "use q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj "
                          "(or q, k, v, o, gate, up, down) or all-linear");
    }
    std::vector<std::string> out;
    for (size_t i = 0; i < on.size(); ++i)
        if (on[i]) out.push_back(projection_names()[i]);
    return out;
}

ParameterCounts count_parameter_roles(const model::ModelConfig& c, const MethodShape& m) {
    ParameterCounts p;
    p.total = model::count_parameters(c);
    for (const auto& name : projection_names()) {
        const auto [in, out] = projection_shape(c, name);
        p.layer_matmul += c.num_hidden_layers * in * out;
    }
    p.lm_head = c.vocab_size * c.hidden_size;
    if (m.lora) {
        for (const auto& name : m.lora_targets) {
            const auto [in, out] = projection_shape(c, name);
            p.lora += c.num_hidden_layers * m.lora_r * (in + out);
        }
        p.trainable = p.lora;
    } else {
        p.trainable = p.total;
    }
    return p;
}

RowFlops train_row_flops(const model::ModelConfig& c, const MethodShape& m, int64_t positions,
                         int64_t targets, bool gradient_checkpointing) {
    const ParameterCounts p = count_parameter_roles(c, m);
    const double t = static_cast<double>(positions);
    const double base = static_cast<double>(p.layer_matmul);
    // Per token: 4n frozen or 6n trained, + 6 r (in + out) per adapter.
    double per_token = (m.lora ? 4.0 : 6.0) * base + 6.0 * static_cast<double>(p.lora);
    // Scores and PV: 2 matmuls x 2 nh hd T FLOPs per token forward, x 3 with the input grads.
    const double attn_fwd = 4.0 * static_cast<double>(c.num_hidden_layers) *
                            static_cast<double>(c.num_attention_heads * c.head_dim) * t;
    double attn_per_token = 3.0 * attn_fwd;
    if (gradient_checkpointing) {
        per_token += 2.0 * (base + static_cast<double>(p.lora));
        attn_per_token += attn_fwd;
    }
    RowFlops r;
    r.layers = per_token * t;
    r.attention = attn_per_token * t;
    r.lm_head = (m.lora ? 4.0 : 6.0) * static_cast<double>(p.lm_head) * static_cast<double>(targets);
    return r;
}

RowFlops eval_row_flops(const model::ModelConfig& c, int64_t positions, int64_t targets) {
    const double t = static_cast<double>(positions);
    MethodShape full;
    full.lora = false;
    const ParameterCounts p = count_parameter_roles(c, full);
    RowFlops r;
    r.layers = 2.0 * static_cast<double>(p.layer_matmul) * t;
    r.attention = 4.0 * static_cast<double>(c.num_hidden_layers) *
                  static_cast<double>(c.num_attention_heads * c.head_dim) * t * t;
    r.lm_head = 2.0 * static_cast<double>(p.lm_head) * static_cast<double>(targets);
    return r;
}

}  // namespace llmtune::train
