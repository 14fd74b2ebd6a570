#include "train/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <regex>

#include "common/atomic_file.h"
#include "common/error.h"
#include "model/loader.h"
#include "model/peft_adapter.h"
#include "model/safetensors.h"
#include "train/file_hash.h"

namespace fs = std::filesystem;

namespace llmtune::train {

namespace {

constexpr int kFormatVersion = 1;

void fsync_dir(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) throw_io("cannot open directory " + dir + ": " + errno_text(errno));
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) throw_io("cannot fsync directory " + dir + ": " + errno_text(err));
}

std::optional<int64_t> step_of(const std::string& name) {
    static const std::regex re("step-([0-9]{1,18})");
    std::smatch m;
    if (!std::regex_match(name, m, re)) return std::nullopt;
    return std::stoll(m[1].str());
}

void remove_quietly(const std::string& path) {
    std::error_code ec;
    fs::remove_all(path, ec);  // best effort: a leftover is ignored by listing and pruned later
}

template <class J>
const J& need(const J& j, const char* key, const std::string& source) {
    auto it = j.find(key);
    if (it == j.end())
        throw_invalid(source + ": missing key '" + key + "'",
                      "the checkpoint is damaged or from another program");
    return *it;
}

}  // namespace

ordered_json TrainerState::to_json() const {
    ordered_json j;
    j["format_version"] = kFormatVersion;
    j["step"] = step;
    j["total_steps"] = total_steps;
    j["position"] = {{"epoch", position.epoch}, {"batch", position.batch}};
    j["tokens_seen"] = tokens_seen;
    j["elapsed_s"] = elapsed_s;
    j["best_valid_loss"] =
        std::isnan(best_valid_loss) ? ordered_json(nullptr) : ordered_json(best_valid_loss);
    j["evals_without_improvement"] = evals_without_improvement;
    j["config_hash"] = config_hash;
    j["model_sha256"] = model_sha256;
    j["datasets"] = datasets;
    j["config"] = config;
    return j;
}

TrainerState TrainerState::from_json(const json& j, const std::string& source) {
    TrainerState s;
    try {
        if (need(j, "format_version", source).template get<int>() != kFormatVersion)
            throw_invalid(source + ": unsupported checkpoint format_version " +
                              need(j, "format_version", source).dump(),
                          "resume with the llmtune version that wrote it");
        s.step = need(j, "step", source).template get<int64_t>();
        s.total_steps = need(j, "total_steps", source).template get<int64_t>();
        const auto& pos = need(j, "position", source);
        s.position.epoch = need(pos, "epoch", source).template get<int64_t>();
        s.position.batch = need(pos, "batch", source).template get<int64_t>();
        s.tokens_seen = need(j, "tokens_seen", source).template get<int64_t>();
        s.elapsed_s = need(j, "elapsed_s", source).template get<double>();
        const auto& best = need(j, "best_valid_loss", source);
        s.best_valid_loss = best.is_null() ? std::nan("") : best.template get<double>();
        s.evals_without_improvement =
            need(j, "evals_without_improvement", source).template get<int64_t>();
        s.config_hash = need(j, "config_hash", source).template get<std::string>();
        s.model_sha256 = need(j, "model_sha256", source).template get<std::string>();
        s.datasets = need(j, "datasets", source);
        s.config = need(j, "config", source);
    } catch (const json::exception& e) {
        throw_invalid(source + ": " + e.what(), "the checkpoint is damaged");
    }
    return s;
}

std::string checkpoint_name(int64_t step) {
    return "step-" + std::to_string(step);
}

std::vector<CheckpointRef> list_checkpoints(const std::string& checkpoints_dir) {
    std::vector<CheckpointRef> out;
    std::error_code ec;
    if (!fs::is_directory(checkpoints_dir, ec)) return out;
    for (const auto& e : fs::directory_iterator(checkpoints_dir, ec)) {
        auto step = step_of(e.path().filename().string());
        if (!step || !e.is_directory()) continue;
        if (!fs::exists(e.path() / "trainer_state.json")) continue;  // not ours / damaged
        out.push_back({*step, e.path().string()});
    }
    if (ec) throw_io("cannot list " + checkpoints_dir + ": " + ec.message());
    std::sort(out.begin(), out.end(),
              [](const CheckpointRef& a, const CheckpointRef& b) { return a.step < b.step; });
    return out;
}

std::optional<CheckpointRef> latest_checkpoint(const std::string& checkpoints_dir) {
    auto all = list_checkpoints(checkpoints_dir);
    if (all.empty()) return std::nullopt;
    return all.back();
}

std::string commit_checkpoint_dir(const std::string& checkpoints_dir, int64_t step,
                                  const std::function<void(const std::string& dir)>& fill) {
    make_dirs(checkpoints_dir);
    const std::string name = checkpoint_name(step);
    const std::string tmp =
        checkpoints_dir + "/.tmp-" + name + "." + std::to_string(static_cast<long>(::getpid()));
    const std::string final_dir = checkpoints_dir + "/" + name;
    remove_quietly(tmp);
    try {
        make_dirs(tmp);
        fill(tmp);
        fsync_dir(tmp);
        if (fs::exists(final_dir)) {
            // Replacing a checkpoint of the same step (a resumed run saving it again): move
            // the old one aside first, so a crash leaves the older checkpoints as the latest
            // rather than a half-replaced one.
            const std::string old = checkpoints_dir + "/.tmp-old-" + name + "." +
                                    std::to_string(static_cast<long>(::getpid()));
            remove_quietly(old);
            fs::rename(final_dir, old);
            fs::rename(tmp, final_dir);
            remove_quietly(old);
        } else {
            fs::rename(tmp, final_dir);
        }
        fsync_dir(checkpoints_dir);
    } catch (const fs::filesystem_error& e) {
        remove_quietly(tmp);
        throw_io("cannot write checkpoint " + final_dir + ": " + e.what(),
                 "check free disk space and permissions of " + checkpoints_dir);
    } catch (const Error& e) {
        remove_quietly(tmp);
        throw Error(e.kind(), "cannot write checkpoint " + final_dir + ": " + e.message(),
                    e.hint().empty() ? "check free disk space and permissions of " + checkpoints_dir
                                     : e.hint());
    } catch (...) {
        remove_quietly(tmp);
        throw;
    }
    return final_dir;
}

void prune_checkpoints(const std::string& checkpoints_dir, int64_t keep) {
    LLMTUNE_ASSERT(keep >= 1, "save_total_limit 0 means keep all; the caller skips pruning");
    auto all = list_checkpoints(checkpoints_dir);
    for (size_t i = 0; i + static_cast<size_t>(keep) < all.size(); ++i)
        remove_quietly(all[i].dir);
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(checkpoints_dir, ec))
        if (e.path().filename().string().rfind(".tmp-", 0) == 0) {
            // Only our own process's leftovers are certain to be stale; others' are left alone
            // in case another trainer shares the directory (which it should not).
            const std::string suffix = "." + std::to_string(static_cast<long>(::getpid()));
            const std::string n = e.path().filename().string();
            if (n.size() > suffix.size() &&
                n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
                remove_quietly(e.path().string());
        }
}

torch::Tensor cpu_rng_state() {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    return gen.get_state();
}

void set_cpu_rng_state(const torch::Tensor& state) {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(state);
}

std::string save_checkpoint(const std::string& checkpoints_dir, const TrainerState& state,
                            const CheckpointModel& m) {
    LLMTUNE_ASSERT(m.lm && m.optimizer, "the trainer passes its model and optimizer");
    return commit_checkpoint_dir(checkpoints_dir, state.step, [&](const std::string& dir) {
        if (m.lora) {
            model::save_peft_adapter(dir + "/adapter", *m.lm, m.lora_config, m.base_model_name);
        } else {
            model::write_safetensors(dir + "/model.safetensors", model::model_state(*m.lm));
        }
        model::write_safetensors(dir + "/optimizer.safetensors", m.optimizer->state_dict());
        model::write_safetensors(dir + "/rng_state.safetensors", {{"torch_cpu", cpu_rng_state()}});
        write_json_file(dir + "/trainer_state.json", state.to_json());
    });
}

TrainerState read_trainer_state(const std::string& checkpoint_dir) {
    const std::string path = checkpoint_dir + "/trainer_state.json";
    return TrainerState::from_json(read_json_file(path), path);
}

void load_checkpoint_weights(const std::string& checkpoint_dir, const CheckpointModel& m) {
    LLMTUNE_ASSERT(m.lm && m.optimizer, "the trainer passes its model and optimizer");
    const std::string weights_path = m.lora ? checkpoint_dir + "/adapter/adapter_model.safetensors"
                                            : checkpoint_dir + "/model.safetensors";
    const std::string prefix = m.lora ? model::kPeftKeyPrefix : "";
    auto file = model::SafetensorsFile::open(weights_path);

    // The tensors to fill: exactly the optimizer's parameters.
    std::vector<std::string> problems;
    std::map<std::string, torch::Tensor> targets;
    for (const auto& [name, t] : m.optimizer->params())
        targets.emplace(prefix + name, t);
    for (const auto& [key, t] : targets) {
        if (!file->contains(key)) {
            problems.push_back("missing tensor '" + key + "'");
            continue;
        }
        auto src = file->tensor(key);
        if (src.sizes() != t.sizes())
            problems.push_back("tensor '" + key + "' has shape " + c10::str(src.sizes()) +
                               ", the model needs " + c10::str(t.sizes()));
        else if (src.scalar_type() != t.scalar_type())
            problems.push_back("tensor '" + key + "' is " + c10::toString(src.scalar_type()) +
                               ", the model needs " + c10::toString(t.scalar_type()));
    }
    for (const auto& info : file->header().tensors)
        if (!targets.count(info.name)) problems.push_back("unexpected tensor '" + info.name + "'");
    if (!problems.empty()) {
        std::string msg = weights_path + " does not match the model being trained:";
        for (const auto& p : problems)
            msg += "\n  " + p;
        throw_invalid(msg,
                      "resume with the configuration (method, LoRA targets and rank) that "
                      "wrote the checkpoint");
    }
    const auto opt_state = model::SafetensorsFile::open(checkpoint_dir + "/optimizer.safetensors");
    model::NamedTensors opt;
    for (const auto& info : opt_state->header().tensors)
        opt.emplace_back(info.name, opt_state->tensor(info.name));
    auto rng = model::SafetensorsFile::open(checkpoint_dir + "/rng_state.safetensors");
    if (!rng->contains("torch_cpu"))
        throw_invalid(checkpoint_dir + "/rng_state.safetensors has no 'torch_cpu' tensor",
                      "the checkpoint is damaged");
    // Everything checked: now change state. The optimizer checks its own state first and
    // changes nothing on error.
    m.optimizer->load_state_dict(opt);
    {
        torch::NoGradGuard no_grad;
        for (auto& [key, t] : targets)
            t.copy_(file->tensor(key));
    }
    set_cpu_rng_state(rng->tensor("torch_cpu").clone());
}

}  // namespace llmtune::train
