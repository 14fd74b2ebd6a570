#include "service/job_service.h"

#include <filesystem>

#include "service/ids.h"
#include "service/job_estimate.h"
#include "service/job_spec.h"
#include "service/model_catalog.h"
#include "service/service_error.h"

namespace llmtune::service {

namespace {

std::string string_field(const ordered_json& body, const char* key, bool required) {
    if (!body.contains(key) || body[key].is_null()) {
        if (required)
            throw_invalid_param(key, std::string("Missing required parameter: '") + key + "'.",
                                "missing_required_parameter");
        return "";
    }
    if (!body[key].is_string())
        throw_invalid_param(key, std::string("Invalid type for '") + key + "': expected a string.",
                            "invalid_type");
    return body[key].get<std::string>();
}

void check_file(MetadataStore& store, const Principal& who, const std::string& id,
                const std::string& param) {
    auto f = store.get_file(who.project_id, id);
    if (!f)
        throw ServiceError(ErrorKind::invalid_input, "Invalid file '" + id + "' for '" + param +
                                                         "': no such file in this project.",
                           param, "invalid_" + param);
    if (f->purpose != "fine-tune")
        throw ServiceError(ErrorKind::invalid_input,
                           "Invalid file '" + id + "' for '" + param + "': its purpose is '" +
                               f->purpose + "', not 'fine-tune'.",
                           param, "invalid_" + param);
    if (f->status == kFileError)
        throw ServiceError(ErrorKind::invalid_input,
                           "Invalid file '" + id + "' for '" + param +
                               "': it failed validation: " + f->status_details,
                           param, "invalid_" + param);
}

}  // namespace

JobService::JobService(MetadataStore& store, Scheduler& scheduler, std::string models_dir)
    : store_(store), scheduler_(scheduler), models_dir_(std::move(models_dir)) {}

JobRecord JobService::create(const Principal& who, const ordered_json& body) {
    std::string hardware;
    JobRecord job = prepare(who, body, &hardware);
    // Estimated once the job is queued ("auto" resolved, files processed): job_estimate.h.
    job.estimate_json = ordered_json{{"status", "pending"}, {"hardware", hardware}}.dump();
    store_.insert_job(job);
    scheduler_.add_event(job.id, "info", "Validating training file: " + job.training_file +
                                             (job.validation_file.empty()
                                                  ? ""
                                                  : " and validation file: " + job.validation_file));
    scheduler_.wake();
    return job;
}

JobRecord JobService::prepare(const Principal& who, ordered_json body, std::string* hardware) {
    *hardware = JobEstimator::take_hardware(body);
    static const std::vector<std::string> known = {
        "model",    "training_file", "validation_file", "suffix",       "seed",
        "metadata", "method",        "hyperparameters", "integrations", "llmtune"};
    for (auto it = body.begin(); it != body.end(); ++it) {
        bool ok = false;
        for (const auto& k : known) ok = ok || k == it.key();
        if (!ok)
            throw_invalid_param(it.key(), "Unknown parameter: '" + it.key() + "'.",
                                "unknown_parameter");
    }
    if (body.contains("integrations") && !body["integrations"].is_null() &&
        !(body["integrations"].is_array() && body["integrations"].empty()))
        throw_invalid_param("integrations", "Integrations (wandb) are not supported by llmtune.");

    JobRecord job;
    job.model = string_field(body, "model", true);
    if (job.model.rfind("ft:", 0) == 0)
        throw ServiceError(ErrorKind::invalid_input,
                           "Fine-tuning a fine-tuned model ('" + job.model +
                               "') is not supported yet; give a base model.",
                           "model", "model_not_available");
    auto base = find_base_model(models_dir_, job.model);
    if (!base)
        throw ServiceError(ErrorKind::not_found,
                           "The model '" + job.model + "' does not exist or is not available for "
                           "fine-tuning (GET /v1/models lists the base models).",
                           "model", "model_not_found");
    if (!base->llmtune.value("usable", false))
        throw ServiceError(ErrorKind::invalid_input,
                           "The model '" + job.model + "' cannot be fine-tuned: " +
                               base->llmtune.value("error", std::string("unusable config.json")),
                           "model", "model_not_available");
    job.training_file = string_field(body, "training_file", true);
    check_file(store_, who, job.training_file, "training_file");
    job.validation_file = string_field(body, "validation_file", false);
    if (!job.validation_file.empty()) check_file(store_, who, job.validation_file, "validation_file");
    job.suffix = string_field(body, "suffix", false);
    if (job.suffix.size() > 64)
        throw_invalid_param("suffix", "Invalid 'suffix': at most 64 characters.");
    for (char c : job.suffix)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
            throw_invalid_param("suffix",
                                "Invalid 'suffix': only letters, digits, '-', '_' and '.' are "
                                "allowed.");
    if (body.contains("seed") && !body["seed"].is_null()) {
        if (!body["seed"].is_number_integer() || body["seed"].get<int64_t>() < 0 ||
            body["seed"].get<int64_t>() > 2147483647)
            throw_invalid_param("seed", "Invalid 'seed': expected an integer from 0 to 2147483647.");
        job.seed = body["seed"].get<int64_t>();
    } else {
        job.seed = static_cast<int64_t>(std::hash<std::string>{}(new_id("", 12)) & 0x7fffffff);
    }
    if (body.contains("metadata") && !body["metadata"].is_null()) {
        const auto& m = body["metadata"];
        if (!m.is_object() || m.size() > 16)
            throw_invalid_param("metadata", "Invalid 'metadata': an object of at most 16 pairs.");
        for (auto it = m.begin(); it != m.end(); ++it)
            if (!it.value().is_string() || it.key().size() > 64 ||
                it.value().get<std::string>().size() > 512)
                throw_invalid_param("metadata",
                                    "Invalid 'metadata': keys up to 64 characters, string values "
                                    "up to 512.");
        job.metadata_json = m.dump();
    }
    JobSpec spec = parse_job_spec(body);
    job.spec_json = spec.to_json().dump();
    job.id = new_id("ftjob-");
    job.project_id = who.project_id;
    job.created_at = unix_now();
    job.status = kJobValidatingFiles;
    return job;
}

JobRecord JobService::get(const Principal& who, const std::string& id) {
    auto j = store_.get_job(who.project_id, id);
    if (!j) throw_no_such("FineTuningJob", id, "fine_tuning_job_id");
    return *j;
}

Page<JobRecord> JobService::list(const Principal& who, const JobListQuery& q) {
    return store_.list_jobs(who.project_id, q);
}

JobRecord JobService::cancel(const Principal& who, const std::string& id) {
    return scheduler_.request_stop(who.project_id, id, false);
}

JobRecord JobService::pause(const Principal& who, const std::string& id) {
    return scheduler_.request_stop(who.project_id, id, true);
}

JobRecord JobService::resume(const Principal& who, const std::string& id) {
    return scheduler_.resume(who.project_id, id);
}

Page<JobEventRecord> JobService::events(const Principal& who, const std::string& id,
                                        const std::string& after, int64_t limit) {
    get(who, id);
    return store_.list_job_events(id, after, limit);
}

std::vector<JobEventRecord> JobService::events_since(const Principal& who, const std::string& id,
                                                     int64_t after_seq) {
    get(who, id);
    return store_.job_events_since(id, after_seq);
}

Page<JobCheckpointRecord> JobService::checkpoints(const Principal& who, const std::string& id,
                                                  const std::string& after, int64_t limit) {
    get(who, id);
    return store_.list_job_checkpoints(id, after, limit);
}

std::optional<JobRecord> JobService::find_model(const Principal& who, const std::string& model) {
    return store_.find_job_by_model(who.project_id, model);
}

std::vector<JobRecord> JobService::fine_tuned_models(const Principal& who) {
    return store_.list_fine_tuned_models(who.project_id);
}

JobRecord JobService::delete_model(const Principal& who, const std::string& model) {
    auto job = store_.find_job_by_model(who.project_id, model);
    if (!job)
        throw ServiceError(ErrorKind::not_found, "The model '" + model + "' does not exist.",
                           "model", "model_not_found");
    job->model_deleted = true;
    store_.update_job(*job);  // the row first: a crash leaves files, never a model without them
    std::error_code ec;
    std::filesystem::remove_all(output_dir(*job), ec);
    scheduler_.add_event(job->id, "info", "The fine-tuned model " + model + " was deleted.");
    return *job;
}

std::string JobService::output_dir(const JobRecord& job) const {
    return scheduler_.job_dir(job.id) + "/output";
}

std::string JobService::method_of(const JobRecord& job) {
    return ordered_json::parse(job.spec_json).value("method", "lora");
}

}  // namespace llmtune::service
