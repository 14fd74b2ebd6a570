#include "service/checkpoint_models.h"

#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>

#include "common/error.h"
#include "service/ids.h"

namespace fs = std::filesystem;

namespace llmtune::service {

namespace {

bool on_disk(const JobCheckpointRecord& c) {
    std::error_code ec;
    return !c.path.empty() && fs::is_directory(c.path, ec);
}

std::string method_of(const JobRecord& job) {
    return ordered_json::parse(job.spec_json).value("method", "lora");
}

}  // namespace

std::vector<CheckpointModel> list_checkpoint_models(MetadataStore& store,
                                                    const std::string& project_id) {
    std::vector<CheckpointModel> out;
    std::set<std::string> seen;
    std::map<std::string, std::optional<JobRecord>> jobs;
    for (auto& c : store.list_project_checkpoints(project_id)) {
        if (!seen.insert(c.fine_tuned_model_checkpoint).second || !on_disk(c)) continue;
        auto it = jobs.find(c.job_id);
        if (it == jobs.end()) it = jobs.emplace(c.job_id, store.get_job(project_id, c.job_id)).first;
        if (!it->second) continue;
        out.push_back({std::move(c), *it->second});
    }
    return out;
}

std::optional<CheckpointModel> find_checkpoint_model(MetadataStore& store,
                                                     const std::string& project_id,
                                                     const std::string& model) {
    if (model.rfind("ft:", 0) != 0 || model.find(":ckpt-step-") == std::string::npos)
        return std::nullopt;
    auto c = store.find_checkpoint_by_model(project_id, model);
    if (!c || !on_disk(*c)) return std::nullopt;
    auto job = store.get_job(project_id, c->job_id);
    if (!job) return std::nullopt;
    return CheckpointModel{*c, *job};
}

CheckpointFiles checkpoint_files(const CheckpointModel& m, const std::string& base_dir,
                                 const std::string& job_dir) {
    if (method_of(m.job) == "lora") return {base_dir, m.checkpoint.path + "/adapter"};
    const std::string view = job_dir + "/served/ckpt-step-" + std::to_string(m.checkpoint.step);
    std::error_code ec;
    if (fs::exists(view + "/model.safetensors", ec)) return {view, ""};
    // Built under a temp name and renamed, so a concurrent request never sees half a view.
    fs::create_directories(job_dir + "/served", ec);
    const std::string tmp = view + ".tmp-" + new_id("", 8);
    fs::create_directories(tmp, ec);
    if (ec) throw_io(tmp + ": cannot create the checkpoint's model view: " + ec.message());
    for (const auto& e : fs::directory_iterator(base_dir, ec)) {
        const std::string name = e.path().filename().string();
        // The base model's config and tokenizer files; never its weights.
        if (name.find(".safetensors") != std::string::npos || name.rfind('.', 0) == 0 ||
            !e.is_regular_file(ec))
            continue;
        fs::create_symlink(fs::absolute(e.path()), tmp + "/" + name, ec);
    }
    fs::create_symlink(fs::absolute(m.checkpoint.path + "/model.safetensors"),
                       tmp + "/model.safetensors", ec);
    if (ec) throw_io(tmp + ": cannot link the checkpoint's weights: " + ec.message());
    fs::rename(tmp, view, ec);
    if (ec) fs::remove_all(tmp, ec);  // another request made it first: use theirs
    return {view, ""};
}

ordered_json checkpoint_model_json(const CheckpointModel& m) {
    ordered_json out;
    out["id"] = m.checkpoint.fine_tuned_model_checkpoint;
    out["object"] = "model";
    out["created"] = m.checkpoint.created_at;
    out["owned_by"] = m.job.project_id;
    out["llmtune"] = {{"fine_tuned", true},
                      {"checkpoint", true},
                      {"base_model", m.job.model},
                      {"fine_tuning_job", m.job.id},
                      {"step", m.checkpoint.step},
                      {"method", method_of(m.job)},
                      {"metrics", ordered_json::parse(m.checkpoint.metrics_json, nullptr, false)}};
    return out;
}

}  // namespace llmtune::service
