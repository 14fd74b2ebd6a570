#include "service/job_estimate.h"

#include <algorithm>

#include "common/error.h"
#include "data/dataset.h"
#include "model/model_config.h"
#include "service/job_spec.h"
#include "service/model_catalog.h"
#include "service/service_error.h"
#include "train/estimator.h"
#include "train/flop_model.h"
#include "train/step_time_model.h"

namespace llmtune::service {

JobEstimator::JobEstimator(MetadataStore& store, const BlobStore& blobs, std::string models_dir,
                           std::string data_dir)
    : store_(store),
      blobs_(blobs),
      models_dir_(std::move(models_dir)),
      data_dir_(std::move(data_dir)),
      catalog_(train::load_hardware_catalog()) {}

std::string JobEstimator::take_hardware(ordered_json& body) {
    if (!body.contains("llmtune") || !body["llmtune"].is_object()) return "local";
    auto& x = body["llmtune"];
    if (!x.contains("hardware")) return "local";
    if (!x["hardware"].is_string() || x["hardware"].get<std::string>().empty())
        throw_invalid_param("llmtune.hardware",
                            "Invalid 'llmtune.hardware': expected 'local' or the name of a "
                            "hardware catalog entry (e.g. 'aws-sagemaker/ml.g5.xlarge').");
    std::string name = x["hardware"].get<std::string>();
    x.erase("hardware");
    return name;
}

JobEstimator::Stats JobEstimator::token_stats(const FileRecord& file, const std::string& model_dir,
                                              int64_t max_seq_len, const std::string& param) {
    if (file.status != kFileProcessed)
        throw ServiceError(ErrorKind::invalid_input,
                           "The file " + file.id + " for '" + param + "' is still being validated "
                           "(status '" + file.status + "'); estimate once it is processed.",
                           param, "file_not_processed");
    const std::string key = file.canonical_sha256 + "|" + model_dir + "|" + std::to_string(max_seq_len);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = stats_cache_.find(key);
        if (it != stats_cache_.end()) return it->second;
    }
    data::DataOptions opts;
    opts.source.input_format = "jsonl";  // the canonical JSONL (the blob has no extension)
    opts.model = model_dir;
    opts.max_seq_len = max_seq_len;
    auto report = data::scan_dataset(blobs_.path(file.canonical_sha256), opts,
                                     [](const auto&, const std::string&) {});
    if (!report.tokens || report.tokens->count() == 0 || report.tokens->total() == 0)
        throw ServiceError(ErrorKind::invalid_input,
                           "The file " + file.id + " has no tokens to train on with this model" +
                               (report.error_total > 0 ? ": " + report.error_summary(3) : "."),
                           param, "invalid_" + param);
    Stats s;
    s.count = report.tokens->count();
    s.total = report.tokens->total();
    s.mean = report.tokens->mean();
    s.trainable_fraction = static_cast<double>(report.tokens->trainable_total()) /
                           static_cast<double>(report.tokens->total());
    std::lock_guard<std::mutex> lock(mutex_);
    stats_cache_[key] = s;
    return s;
}

ordered_json JobEstimator::estimate(const JobRecord& job, const std::string& hardware_name) {
    auto base = find_base_model(models_dir_, job.model);
    if (!base)
        throw ServiceError(ErrorKind::not_found, "The model '" + job.model + "' does not exist.",
                           "model", "model_not_found");
    train::HardwareProfile hw;
    try {
        hw = train::find_hardware(hardware_name, catalog_, data_dir_);
    } catch (const Error& e) {
        // The local profile missing is this server's state, not a bad value, but the request
        // can still name catalog hardware instead: answer 400 naming the param either way.
        throw ServiceError(ErrorKind::invalid_input,
                           e.message() + (e.hint().empty() ? "" : " (" + e.hint() + ")"),
                           "llmtune.hardware",
                           hardware_name == "local" ? "hardware_profile_missing"
                                                    : "hardware_not_found");
    }
    auto train_file = store_.get_file(job.project_id, job.training_file);
    if (!train_file) throw_no_such("File", job.training_file, "training_file");
    JobSpec spec = JobSpec::from_json(ordered_json::parse(job.spec_json));
    if (!spec.resolved()) {
        if (train_file->status != kFileProcessed)
            token_stats(*train_file, base->path, spec.max_seq_len, "training_file");  // throws
        resolve_auto(spec, std::max<int64_t>(1, train_file->canonical_records));
    }

    train::EstimateRequest r;
    r.model = model::load_model_config(base->path);
    r.method.lora = spec.method == "lora";
    r.method.lora_r = spec.lora_r;
    if (r.method.lora) r.method.lora_targets = train::resolve_lora_targets(spec.target_modules);
    r.lora_dropout = r.method.lora ? spec.lora_dropout : 0.0;
    r.weight_bytes = spec.dtype == "bf16" ? 2 : 4;
    r.gradient_checkpointing = spec.gradient_checkpointing;
    r.plan.batch_size = *spec.batch_size;
    r.plan.gradient_accumulation_steps = spec.gradient_accumulation_steps;
    r.plan.epochs = *spec.n_epochs;
    r.plan.max_steps = spec.max_steps;
    r.plan.eval_steps = job.validation_file.empty() ? 0 : spec.eval_steps;
    r.plan.packing = spec.packing;
    r.plan.max_seq_len = spec.max_seq_len;
    r.plan.seed = static_cast<uint64_t>(job.seed);
    const Stats t = token_stats(*train_file, base->path, spec.max_seq_len, "training_file");
    r.train_rows = train::rows_from_token_stats(t.count, t.mean, t.trainable_fraction,
                                                spec.max_seq_len, spec.packing);
    double dataset_bytes = 8.0 * static_cast<double>(t.total) + 64.0 * static_cast<double>(t.count);
    if (!job.validation_file.empty()) {
        auto vf = store_.get_file(job.project_id, job.validation_file);
        if (!vf) throw_no_such("File", job.validation_file, "validation_file");
        const Stats v = token_stats(*vf, base->path, spec.max_seq_len, "validation_file");
        r.valid_rows = train::rows_from_token_stats(v.count, v.mean, v.trainable_fraction,
                                                    spec.max_seq_len, spec.packing);
        dataset_bytes += 8.0 * static_cast<double>(v.total) + 64.0 * static_cast<double>(v.count);
    }
    r.rows_approximate = true;
    r.dataset_bytes = dataset_bytes;
    const train::Estimate e = train::estimate_training(r, hw, train::builtin_step_time_fit());
    ordered_json out = e.to_json();
    out["hardware_profile"] = hw.to_json();
    out["rows_approximate"] = true;
    out["hyperparameters"] = {{"n_epochs", *spec.n_epochs},
                              {"batch_size", *spec.batch_size},
                              {"learning_rate_multiplier", *spec.learning_rate_multiplier}};
    out["data"] = {{"train_examples", t.count}, {"train_tokens_per_epoch", t.total}};
    return out;
}

void JobEstimator::estimate_and_store(const JobRecord& job) {
    std::string hardware = "local";
    try {
        auto old = ordered_json::parse(job.estimate_json, nullptr, false);
        if (old.is_object()) hardware = old.value("hardware", hardware);
    } catch (...) {
    }
    ordered_json out;
    try {
        out = estimate(job, hardware);
        out["status"] = "estimated";
    } catch (const std::exception& e) {
        out = {{"status", "unavailable"}, {"hardware", hardware}, {"error", e.what()}};
    }
    store_.set_job_estimate(job.id, out.dump());
}

}  // namespace llmtune::service
