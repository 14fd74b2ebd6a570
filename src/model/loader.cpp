#include "model/loader.h"

#include <map>
#include <set>
#include <sstream>

#include "common/error.h"
#include "common/progress.h"
#include "model/torch_compat.h"

namespace llmtune::model {

torch::Dtype parse_dtype(const std::string& name) {
    if (name == "f32" || name == "float32" || name == "fp32") return torch::kFloat32;
    if (name == "bf16" || name == "bfloat16") return torch::kBFloat16;
    if (name == "f16" || name == "float16" || name == "fp16") return torch::kFloat16;
    throw_invalid("unknown dtype '" + name + "'", "use f32 or bf16");
}

std::string dtype_short_name(torch::Dtype dtype) {
    if (dtype == torch::kFloat32) return "f32";
    if (dtype == torch::kBFloat16) return "bf16";
    if (dtype == torch::kFloat16) return "f16";
    return c10::toString(dtype);
}

torch::Device parse_device(const std::string& name) {
    if (name == "cpu") return torch::kCPU;
    if (name.rfind("cuda", 0) == 0) {
        if (!compat::cuda_available())
            throw Error(ErrorKind::io, "device '" + name + "' requested but CUDA is not available",
                        "this libtorch build or machine has no CUDA; use --device cpu");
        try {
            return torch::Device(name);
        } catch (const c10::Error&) {
        }
    }
    throw_invalid("unknown device '" + name + "'", "use cpu, cuda or cuda:N");
}

namespace {

// Tensors a checkpoint may carry that llmtune recomputes or shares.
bool ignorable(const std::string& name, const ModelConfig& cfg) {
    if (name.find("rotary_emb.inv_freq") != std::string::npos) return true;
    if (cfg.tie_word_embeddings && name == "lm_head.weight") return true;
    return false;
}

std::string shape_str(const std::vector<int64_t>& s) {
    std::ostringstream o;
    o << "[";
    for (size_t i = 0; i < s.size(); ++i)
        o << (i ? ", " : "") << s[i];
    return o.str() + "]";
}

}  // namespace

CausalLM load_causal_lm(const std::string& dir, const LoadOptions& options) {
    ModelConfig cfg = load_model_config(dir);
    Checkpoint ck = Checkpoint::open_dir(dir);
    auto topts = torch::TensorOptions().dtype(options.dtype).device(options.device);
    CausalLM lm(cfg, topts);

    std::vector<std::string> problems;
    auto params = lm->named_parameters(/*recurse=*/true);
    std::set<std::string> expected;
    for (const auto& p : params) {
        expected.insert(p.key());
        if (!ck.contains(p.key())) {
            problems.push_back("missing tensor '" + p.key() + "' (shape " +
                               shape_str(p.value().sizes().vec()) + ")");
            continue;
        }
        const auto& info = ck.info(p.key());
        if (info.shape != p.value().sizes().vec())
            problems.push_back("tensor '" + p.key() + "' has shape " + shape_str(info.shape) +
                               " but config.json implies " + shape_str(p.value().sizes().vec()));
        else if (info.dtype != StDtype::F32 && info.dtype != StDtype::F16 &&
                 info.dtype != StDtype::BF16 && info.dtype != StDtype::F64)
            problems.push_back("tensor '" + p.key() + "' has dtype " + st_dtype_name(info.dtype) +
                               "; weights must be floating point");
    }
    for (const auto& name : ck.names())
        if (!expected.count(name) && !ignorable(name, cfg))
            problems.push_back("unexpected tensor '" + name + "'");
    if (!problems.empty()) {
        std::string msg = dir + ": the checkpoint does not match config.json (" +
                          std::to_string(problems.size()) + " problem" +
                          (problems.size() > 1 ? "s" : "") + "):";
        const size_t shown = std::min<size_t>(problems.size(), 20);
        for (size_t i = 0; i < shown; ++i)
            msg += "\n  " + problems[i];
        if (problems.size() > shown)
            msg += "\n  ... and " + std::to_string(problems.size() - shown) + " more";
        throw_invalid(msg, "the weights and config.json must come from the same model");
    }

    torch::NoGradGuard no_grad;
    Progress progress("loading", count_parameters(cfg), "params");
    for (auto& p : params) {
        progress.advance(p.value().numel());
        torch::Tensor src = ck.tensor(p.key());
        if (src.scalar_type() == options.dtype && options.device.is_cpu())
            p.value().set_data(src);  // zero-copy: the parameter aliases the mapping
        else
            p.value().set_data(src.to(options.device, options.dtype));
    }
    progress.finish();
    return lm;
}

NamedTensors model_state(CausalLM& model) {
    NamedTensors out;
    for (const auto& p : model->named_parameters(true))
        out.emplace_back(p.key(), p.value());
    return out;
}

}  // namespace llmtune::model
