#include "server/job_json.h"

#include <mutex>
#include <unordered_map>

#include "service/job_spec.h"

namespace llmtune::server {

namespace {

ordered_json opt(const std::optional<int64_t>& v) {
    return v ? ordered_json(*v) : ordered_json(nullptr);
}

ordered_json str_or_null(const std::string& s) {
    return s.empty() ? ordered_json(nullptr) : ordered_json(s);
}

}  // namespace

ordered_json job_json(const service::JobRecord& j) {
    auto spec = service::JobSpec::from_json(ordered_json::parse(j.spec_json));
    ordered_json out;
    out["object"] = "fine_tuning.job";
    out["id"] = j.id;
    out["model"] = j.model;
    out["created_at"] = j.created_at;
    out["finished_at"] = opt(j.finished_at);
    out["fine_tuned_model"] = str_or_null(j.fine_tuned_model);
    out["organization_id"] = j.project_id;
    out["result_files"] = ordered_json::parse(j.result_files_json);
    out["status"] = j.status;
    out["validation_file"] = str_or_null(j.validation_file);
    out["training_file"] = j.training_file;
    ordered_json method = spec.method_json();
    out["hyperparameters"] = method["supervised"]["hyperparameters"];  // the legacy field
    out["trained_tokens"] = j.status == service::kJobSucceeded || j.trained_tokens > 0
                                ? ordered_json(j.trained_tokens)
                                : ordered_json(nullptr);
    out["error"] = j.error_code.empty()
                       ? ordered_json(nullptr)
                       : ordered_json{{"code", j.error_code},
                                      {"message", j.error_message},
                                      {"param", str_or_null(j.error_param)}};
    out["seed"] = j.seed;
    out["estimated_finish"] = opt(j.estimated_finish);
    out["integrations"] = ordered_json::array();
    out["metadata"] = ordered_json::parse(j.metadata_json);
    out["suffix"] = str_or_null(j.suffix);
    out["method"] = method;
    ordered_json ext = spec.to_json();
    ext.erase("n_epochs");
    ext.erase("batch_size");
    ext.erase("learning_rate_multiplier");
    ext["learning_rate"] = spec.resolved() ? ordered_json(spec.effective_learning_rate()) : ext["learning_rate"];
    ext["attempts"] = j.attempts;
    ext["model_deleted"] = j.model_deleted;
    ext["estimate"] = ordered_json::parse(j.estimate_json, nullptr, false);
    ext["cost"] = ordered_json::parse(j.cost_json, nullptr, false);
    out["llmtune"] = ext;
    return out;
}

namespace {

// Every stored field of the job: two records with the same signature render the same.
std::string signature(const service::JobRecord& j) {
    std::string s;
    s.reserve(j.spec_json.size() + j.estimate_json.size() + j.cost_json.size() +
              j.metadata_json.size() + j.error_message.size() + 256);
    auto add = [&s](const std::string& v) {
        s += std::to_string(v.size());
        s += ':';
        s += v;
    };
    auto num = [&s](int64_t v) {
        s += std::to_string(v);
        s += ';';
    };
    for (const std::string* v :
         {&j.project_id, &j.model, &j.training_file, &j.validation_file, &j.suffix,
          &j.metadata_json, &j.spec_json, &j.status, &j.fine_tuned_model, &j.error_code,
          &j.error_message, &j.error_param, &j.result_files_json, &j.stop_request,
          &j.estimate_json, &j.cost_json})
        add(*v);
    for (int64_t v : {j.seed, j.created_at, j.finished_at.value_or(-1),
                      j.estimated_finish.value_or(-1), static_cast<int64_t>(j.model_deleted),
                      j.trained_tokens, j.last_step, j.attempts, static_cast<int64_t>(j.resume),
                      j.worker_pid})
        num(v);
    return s;
}

struct Rendered {
    std::string signature;
    std::string text;
};

std::mutex g_rendered_mutex;
std::unordered_map<std::string, Rendered> g_rendered;  // by job id
constexpr size_t kMaxRendered = 4096;  // then cleared: a bound, not an LRU

}  // namespace

std::string job_json_text(const service::JobRecord& j) {
    std::string sig = signature(j);
    {
        std::lock_guard<std::mutex> lock(g_rendered_mutex);
        auto it = g_rendered.find(j.id);
        if (it != g_rendered.end() && it->second.signature == sig) return it->second.text;
    }
    std::string text = job_json(j).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::lock_guard<std::mutex> lock(g_rendered_mutex);
    if (g_rendered.size() >= kMaxRendered) g_rendered.clear();
    g_rendered[j.id] = Rendered{std::move(sig), text};
    return text;
}

ordered_json job_event_json(const service::JobEventRecord& e) {
    ordered_json out;
    out["object"] = "fine_tuning.job.event";
    out["id"] = e.id;
    out["created_at"] = e.created_at;
    out["level"] = e.level;
    out["message"] = e.message;
    out["data"] = ordered_json::parse(e.data_json, nullptr, false);
    out["type"] = e.type;
    return out;
}

ordered_json job_checkpoint_json(const service::JobCheckpointRecord& c) {
    ordered_json out;
    out["object"] = "fine_tuning.job.checkpoint";
    out["id"] = c.id;
    out["created_at"] = c.created_at;
    out["fine_tuned_model_checkpoint"] = c.fine_tuned_model_checkpoint;
    out["fine_tuning_job_id"] = c.job_id;
    out["metrics"] = ordered_json::parse(c.metrics_json, nullptr, false);
    out["step_number"] = c.step;
    return out;
}

ordered_json fine_tuned_model_json(const service::JobRecord& j) {
    ordered_json out;
    out["id"] = j.fine_tuned_model;
    out["object"] = "model";
    out["created"] = j.finished_at.value_or(j.created_at);
    out["owned_by"] = j.project_id;
    out["llmtune"] = {{"fine_tuned", true},
                      {"base_model", j.model},
                      {"fine_tuning_job", j.id},
                      {"method", ordered_json::parse(j.spec_json).value("method", "lora")}};
    return out;
}

}  // namespace llmtune::server
