#include "train/grad_clip.h"

#include <cmath>
#include <sstream>

#include "common/error.h"

namespace llmtune::train {

namespace {

// The L2 norm of one gradient as a 0-dim tensor, in f32 (f64 for f64 gradients).
torch::Tensor tensor_norm(const torch::Tensor& g) {
    if (g.scalar_type() == torch::kFloat32 || g.scalar_type() == torch::kFloat64) return g.norm(2);
    return torch::norm(g, 2, torch::kFloat32);  // upcast inside the reduction, no copy of g
}

struct Measured {
    GradNorm result;
    std::vector<torch::Tensor> grads;
};

Measured measure(const std::vector<torch::Tensor>& params) {
    Measured m;
    std::vector<torch::Tensor> norms;
    for (const auto& p : params) {
        const auto& g = p.grad();
        if (!g.defined()) continue;
        m.grads.push_back(g);
        norms.push_back(tensor_norm(g));
    }
    if (norms.empty()) return m;
    // All on the first gradient's device, in f64 if any gradient is f64, else f32.
    const auto device = norms.front().device();
    auto dtype = torch::kFloat32;
    for (const auto& n : norms)
        if (n.scalar_type() == torch::kFloat64) dtype = torch::kFloat64;
    for (auto& n : norms)
        n = n.to(device, dtype);
    const torch::Tensor total = torch::stack(norms).norm(2);
    m.result.norm = total.item<double>();
    m.result.finite = std::isfinite(m.result.norm);
    return m;
}

}  // namespace

GradNorm grad_norm(const std::vector<torch::Tensor>& params) {
    torch::NoGradGuard no_grad;
    return measure(params).result;
}

GradNorm clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm) {
    if (!(std::isfinite(max_norm) && max_norm > 0)) {
        std::ostringstream os;
        os << max_norm;
        throw_invalid("max_grad_norm must be a finite number > 0 (got " + os.str() + ")",
                      "1.0 is the usual value; leave clipping off to train without it");
    }
    torch::NoGradGuard no_grad;
    Measured m = measure(params);
    if (!m.result.finite) return m.result;
    const double coef = max_norm / (m.result.norm + 1e-6);
    if (coef < 1.0) {
        for (auto& g : m.grads)
            g.mul_(coef);
        m.result.clipped = true;
    }
    return m.result;
}

}  // namespace llmtune::train
