#include "model/lora.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace llmtune::model {

const std::vector<std::string>& lora_target_names() {
    static const std::vector<std::string> names = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                                   "gate_proj", "up_proj", "down_proj"};
    return names;
}

double LoraConfig::scaling() const {
    const double rd = static_cast<double>(r);
    return use_rslora ? alpha / std::sqrt(rd) : alpha / rd;
}

std::vector<std::string> LoraConfig::resolved_targets() const {
    const auto& all = lora_target_names();
    if (std::find(target_modules.begin(), target_modules.end(), "all-linear") !=
        target_modules.end())
        return all;
    std::vector<std::string> out;
    for (const auto& name : all)
        if (std::find(target_modules.begin(), target_modules.end(), name) != target_modules.end())
            out.push_back(name);
    return out;
}

void LoraConfig::validate() const {
    std::vector<std::string> problems;
    if (r < 1) problems.push_back("r must be at least 1 (got " + std::to_string(r) + ")");
    if (!std::isfinite(alpha)) problems.push_back("lora_alpha must be a finite number");
    if (!(dropout >= 0.0 && dropout < 1.0))
        problems.push_back("lora_dropout must be in [0, 1) (got " + std::to_string(dropout) + ")");
    if (target_modules.empty()) problems.push_back("target_modules is empty");
    const auto& known = lora_target_names();
    for (const auto& t : target_modules)
        if (t != "all-linear" && std::find(known.begin(), known.end(), t) == known.end())
            problems.push_back("unknown target module '" + t + "'");
    if (dtype != torch::kFloat32 && dtype != torch::kBFloat16 && dtype != torch::kFloat16)
        problems.push_back("the adapter dtype must be f32, bf16 or f16");
    if (problems.empty()) return;
    std::string msg = "invalid LoRA configuration:";
    for (const auto& p : problems)
        msg += "\n  " + p;
    throw_invalid(msg,
                  "target_modules takes any of q_proj, k_proj, v_proj, o_proj, gate_proj, "
                  "up_proj, down_proj, or \"all-linear\"");
}

void LinearImpl::add_lora(const LoraConfig& config, at::Generator gen) {
    config.validate();
    if (lora_A)
        throw Error(ErrorKind::conflict, "this projection already carries a LoRA adapter",
                    "merge or remove the existing adapter first");
    const int64_t out = weight.size(0), in = weight.size(1);
    auto opts = torch::TensorOptions().dtype(config.dtype).device(weight.device());
    torch::NoGradGuard no_grad;
    lora_A = register_module("lora_A", std::make_shared<LinearImpl>(in, config.r, false, opts));
    lora_B = register_module("lora_B", std::make_shared<LinearImpl>(config.r, out, false, opts));
    // kaiming_uniform_(a = sqrt(5)) on (r, in): gain sqrt(2 / (1 + 5)), fan_in = in, bound =
    // gain * sqrt(3 / fan_in) = 1 / sqrt(in). Drawn in f32 on the CPU so the values depend
    // only on the seed, not on the dtype or device.
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    auto a = torch::empty({config.r, in}, torch::kFloat32);  // (r, in)
    a.uniform_(-bound, bound, gen);
    lora_A->weight.copy_(a);
    lora_B->weight.zero_();  // (out, r)
    lora_scaling = config.scaling();
    lora_dropout = config.dropout;
    weight.set_requires_grad(false);
    if (bias.defined()) bias.set_requires_grad(false);
}

void LinearImpl::remove_lora() {
    if (!lora_A) return;
    unregister_module("lora_A");
    unregister_module("lora_B");
    lora_A.reset();
    lora_B.reset();
    lora_scaling = 0.0;
    lora_dropout = 0.0;
}

namespace {

// The projection `name` of decoder layer `layer`.
std::shared_ptr<LinearImpl> projection(DecoderLayerImpl& layer, const std::string& name) {
    auto& a = *layer.self_attn;
    auto& m = *layer.mlp;
    if (name == "q_proj") return a.q_proj.ptr();
    if (name == "k_proj") return a.k_proj.ptr();
    if (name == "v_proj") return a.v_proj.ptr();
    if (name == "o_proj") return a.o_proj.ptr();
    if (name == "gate_proj") return m.gate_proj.ptr();
    if (name == "up_proj") return m.up_proj.ptr();
    if (name == "down_proj") return m.down_proj.ptr();
    LLMTUNE_ASSERT(false, "unknown projection " + name);
    return nullptr;
}

template <typename F>
void for_each_projection(CausalLM& model, F&& f) {
    for (auto& layer : *model->model->layers)
        for (const auto& name : lora_target_names())
            f(*projection(*layer->as<DecoderLayerImpl>(), name));
}

}  // namespace

void apply_lora(CausalLM& model, const LoraConfig& config, uint64_t seed) {
    config.validate();
    if (has_lora(model))
        throw Error(ErrorKind::conflict, "the model already carries LoRA adapters",
                    "merge them (merge_lora) or start from the base model");
    auto gen = at::detail::createCPUGenerator(seed);
    const auto targets = config.resolved_targets();
    // PEFT freezes everything that is not an adapter (bias="none").
    for (auto& p : model->parameters())
        p.set_requires_grad(false);
    for (auto& layer : *model->model->layers)
        for (const auto& name : targets)
            projection(*layer->as<DecoderLayerImpl>(), name)->add_lora(config, gen);
}

bool has_lora(CausalLM& model) {
    bool any = false;
    for_each_projection(model, [&](LinearImpl& l) { any = any || l.has_lora(); });
    return any;
}

void merge_lora(CausalLM& model) {
    torch::NoGradGuard no_grad;
    for_each_projection(model, [](LinearImpl& l) {
        if (!l.has_lora()) return;
        // (out, r) @ (r, in) -> (out, in), summed with the base in f32.
        auto delta = torch::matmul(l.lora_B->weight.to(torch::kFloat32),
                                   l.lora_A->weight.to(torch::kFloat32)) *
                     l.lora_scaling;
        auto merged = l.weight.to(torch::kFloat32) + delta.to(l.weight.device());
        l.weight.copy_(merged.to(l.weight.scalar_type()));
        l.remove_lora();
    });
}

NamedTensors lora_parameters(CausalLM& model) {
    NamedTensors out;
    for (const auto& p : model->named_parameters(true))
        if (p.key().find(".lora_A.") != std::string::npos ||
            p.key().find(".lora_B.") != std::string::npos)
            out.emplace_back(p.key(), p.value());
    return out;
}

}  // namespace llmtune::model
