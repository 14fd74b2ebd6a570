#include "train/adamw.h"

#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "common/error.h"

namespace llmtune::train {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string num(double x) {
    std::ostringstream os;
    os << x;
    return os.str();
}

// Moments are f64 for f64 parameters, f32 otherwise.
torch::Dtype state_dtype(const torch::Tensor& param) {
    return param.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
}

std::string shape_text(torch::IntArrayRef shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i)
        s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

torch::Tensor step_tensor(int64_t step) {
    return torch::full({1}, step, torch::TensorOptions().dtype(torch::kInt64));
}

}  // namespace

void AdamWConfig::validate() const {
    std::vector<std::string> problems;
    if (!(std::isfinite(lr) && lr > 0))
        problems.push_back("lr must be a finite number > 0 (got " + num(lr) + ")");
    if (!(beta1 >= 0 && beta1 < 1))
        problems.push_back("beta1 must be in [0, 1) (got " + num(beta1) + ")");
    if (!(beta2 >= 0 && beta2 < 1))
        problems.push_back("beta2 must be in [0, 1) (got " + num(beta2) + ")");
    if (!(std::isfinite(eps) && eps > 0))
        problems.push_back("eps must be a finite number > 0 (got " + num(eps) + ")");
    if (!(std::isfinite(weight_decay) && weight_decay >= 0))
        problems.push_back("weight_decay must be a finite number >= 0 (got " + num(weight_decay) +
                           ")");
    if (problems.empty()) return;
    std::string msg = "invalid AdamW configuration:";
    for (const auto& p : problems)
        msg += "\n  " + p;
    throw_invalid(msg,
                  "typical values: lr 1e-4 to 2e-4 for LoRA, beta1 0.9, beta2 0.999, eps 1e-8, "
                  "weight_decay 0 to 0.1");
}

bool applies_weight_decay(const std::string& name, const torch::Tensor& param) {
    if (param.dim() <= 1) return false;
    if (ends_with(name, "norm.weight") || ends_with(name, ".bias") || name == "bias") return false;
    return true;
}

AdamW::AdamW(model::NamedTensors params, AdamWConfig config)
    : config_(config), params_(std::move(params)) {
    config_.validate();
    if (params_.empty())
        throw_invalid("the optimizer has no parameters to train",
                      "check that the model has trainable parameters (LoRA target_modules, or "
                      "full fine-tuning)");
    std::set<std::string> seen;
    for (const auto& [name, p] : params_) {
        if (!seen.insert(name).second)
            throw_invalid("parameter '" + name + "' is given to the optimizer twice");
        if (!p.defined()) throw_invalid("parameter '" + name + "' is an undefined tensor");
        if (!p.is_floating_point())
            throw_invalid("parameter '" + name + "' is not floating point (" +
                          std::string(c10::toString(p.scalar_type())) + ")");
        Slot s;
        s.name = name;
        s.param = p;
        const auto opts = p.options().dtype(state_dtype(p)).requires_grad(false);
        s.exp_avg = torch::zeros(p.sizes(), opts);
        s.exp_avg_sq = torch::zeros(p.sizes(), opts);
        s.decay = applies_weight_decay(name, p);
        slots_.push_back(std::move(s));
    }
}

void AdamW::step(double lr) {
    LLMTUNE_ASSERT(std::isfinite(lr) && lr >= 0, "the learning rate of a step is finite and >= 0");
    torch::NoGradGuard no_grad;
    const double b1 = config_.beta1, b2 = config_.beta2;
    for (auto& s : slots_) {
        const torch::Tensor& grad_ref = s.param.grad();
        if (!grad_ref.defined()) continue;  // as torch: no gradient, no update, no step
        LLMTUNE_ASSERT(!grad_ref.is_sparse(), "llmtune's modules produce dense gradients");
        ++s.step;
        const bool same_dtype = s.param.scalar_type() == s.exp_avg.scalar_type();
        // The working copy in the state dtype: the parameter itself when it already is.
        torch::Tensor p = same_dtype ? s.param : s.param.to(s.exp_avg.scalar_type());
        torch::Tensor g = grad_ref.to(s.exp_avg.scalar_type());
        if (s.decay && config_.weight_decay != 0) p.mul_(1 - lr * config_.weight_decay);
        s.exp_avg.mul_(b1).add_(g, 1 - b1);
        s.exp_avg_sq.mul_(b2).addcmul_(g, g, 1 - b2);
        const double bias_correction1 = 1 - std::pow(b1, static_cast<double>(s.step));
        const double bias_correction2 = 1 - std::pow(b2, static_cast<double>(s.step));
        torch::Tensor denom =
            s.exp_avg_sq.sqrt().div_(std::sqrt(bias_correction2)).add_(config_.eps);
        p.addcdiv_(s.exp_avg, denom, -(lr / bias_correction1));
        if (!same_dtype) s.param.copy_(p);  // one rounding to the parameter dtype per step
    }
    ++step_count_;
}

void AdamW::zero_grad() {
    for (auto& s : slots_)
        if (s.param.grad().defined()) s.param.mutable_grad() = torch::Tensor();
}

model::NamedTensors AdamW::state_dict() const {
    model::NamedTensors out;
    out.reserve(1 + 3 * slots_.size());
    out.emplace_back("step", step_tensor(step_count_));
    for (const auto& s : slots_) {
        out.emplace_back("exp_avg." + s.name, s.exp_avg.to(torch::kCPU, false, true).contiguous());
        out.emplace_back("exp_avg_sq." + s.name,
                         s.exp_avg_sq.to(torch::kCPU, false, true).contiguous());
        out.emplace_back("step." + s.name, step_tensor(s.step));
    }
    return out;
}

void AdamW::load_state_dict(const model::NamedTensors& state) {
    std::map<std::string, torch::Tensor> given;
    std::vector<std::string> problems;
    for (const auto& [name, t] : state)
        if (!given.emplace(name, t).second) problems.push_back("'" + name + "' appears twice");

    std::set<std::string> used;
    // Looks up a step counter: I64, shape {1}, >= 0.
    auto get_step = [&](const std::string& key, int64_t* out) {
        auto it = given.find(key);
        if (it == given.end()) {
            problems.push_back("'" + key + "' is missing");
            return;
        }
        used.insert(key);
        const auto& t = it->second;
        if (!t.defined() || t.scalar_type() != torch::kInt64 || t.numel() != 1) {
            problems.push_back("'" + key + "' must be one I64 value");
            return;
        }
        *out = t.reshape({}).item<int64_t>();
        if (*out < 0)
            problems.push_back("'" + key + "' is negative (" + std::to_string(*out) + ")");
    };
    // Looks up a moment: the slot's shape and state dtype.
    auto get_moment = [&](const std::string& key, const Slot& s) -> torch::Tensor {
        auto it = given.find(key);
        if (it == given.end()) {
            problems.push_back("'" + key + "' is missing");
            return {};
        }
        used.insert(key);
        const auto& t = it->second;
        if (!t.defined()) {
            problems.push_back("'" + key + "' is an undefined tensor");
            return {};
        }
        if (t.sizes() != s.exp_avg.sizes()) {
            problems.push_back("'" + key + "' has shape " + shape_text(t.sizes()) +
                               ", the parameter " + shape_text(s.exp_avg.sizes()));
            return {};
        }
        if (t.scalar_type() != s.exp_avg.scalar_type()) {
            problems.push_back("'" + key + "' is " + std::string(c10::toString(t.scalar_type())) +
                               ", expected " + c10::toString(s.exp_avg.scalar_type()));
            return {};
        }
        return t;
    };

    int64_t global_step = 0;
    get_step("step", &global_step);
    std::vector<int64_t> steps(slots_.size(), 0);
    std::vector<torch::Tensor> m(slots_.size()), v(slots_.size());
    for (size_t i = 0; i < slots_.size(); ++i) {
        const auto& s = slots_[i];
        m[i] = get_moment("exp_avg." + s.name, s);
        v[i] = get_moment("exp_avg_sq." + s.name, s);
        get_step("step." + s.name, &steps[i]);
        if (steps[i] > global_step)
            problems.push_back("'step." + s.name + "' (" + std::to_string(steps[i]) +
                               ") exceeds the optimizer step (" + std::to_string(global_step) +
                               ")");
    }
    for (const auto& [name, t] : given)
        if (!used.count(name))
            problems.push_back("'" + name + "' is not a state of this optimizer");

    if (!problems.empty()) {
        std::string msg = "the optimizer state does not match the trained parameters (" +
                          std::to_string(problems.size()) + " problems):";
        const size_t shown = std::min<size_t>(problems.size(), 20);
        for (size_t i = 0; i < shown; ++i)
            msg += "\n  " + problems[i];
        if (shown < problems.size())
            msg += "\n  ... and " + std::to_string(problems.size() - shown) + " more";
        throw_invalid(msg,
                      "resume with the same model, training method (LoRA targets and rank, or full "
                      "fine-tuning) and dtype as the checkpoint was written with");
    }

    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < slots_.size(); ++i) {
        slots_[i].exp_avg.copy_(m[i]);
        slots_[i].exp_avg_sq.copy_(v[i]);
        slots_[i].step = steps[i];
    }
    step_count_ = global_step;
}

}  // namespace llmtune::train
