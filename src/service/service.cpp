#include "service/service.h"

#include <filesystem>

#include "common/atomic_file.h"
#include "service/job_cost.h"
#include "service/result_files.h"
#include "service/sqlite_store.h"

namespace llmtune::service {

Service::Service(ServiceConfig config) : config_(std::move(config)) {
    make_dirs(config_.data_dir);
    config_.data_dir = std::filesystem::absolute(config_.data_dir).lexically_normal().string();
    store_ = std::make_unique<SqliteStore>(config_.data_dir + "/llmtune.db");
    blobs_ = open_blob_store(config_.store, config_.data_dir);
    auth_ = std::make_unique<Auth>(*store_);
    admin_ = auth_->ensure_admin_key(config_.data_dir);
    queue_ = std::make_unique<WorkQueue>(config_.file_workers);
    files_ = std::make_unique<FileService>(*store_, *blobs_, *queue_, config_.data_dir);
    files_->recover();
    SchedulerConfig sc;
    sc.data_dir = config_.data_dir;
    sc.models_dir = config_.models_dir;
    sc.worker_binary = config_.worker_binary;
    if (sc.worker_binary.empty()) {
        std::error_code ec;
        sc.worker_binary = std::filesystem::read_symlink("/proc/self/exe", ec).string();
    }
    sc.max_concurrent = config_.max_concurrent_jobs;
    sc.max_retries = config_.max_job_retries;
    sc.worker_threads = config_.worker_threads;
    sc.blob_path = [this](const std::string& sha256) { return blobs_->path(sha256); };
    estimator_ = std::make_unique<JobEstimator>(*store_, *blobs_, config_.models_dir,
                                                config_.data_dir);
    // A queued job's estimate runs on the background queue (it tokenizes the files).
    sc.on_queued = [this](const JobRecord& job) {
        queue_->submit("estimate " + job.id, [this, job] { estimator_->estimate_and_store(job); });
    };
    const std::optional<double> price = local_price_per_hour(config_.data_dir);
    sc.on_train_step = [price](JobRecord& job, const ordered_json& event) {
        update_job_cost(job, event, price);
    };
    sc.on_succeeded = [this](JobRecord& job) {
        FileRecord f = store_result_file(
            *store_, *blobs_, job,
            step_metrics_csv(scheduler_->job_dir(job.id) + "/output/events.jsonl"));
        job.result_files_json = ordered_json::array({f.id}).dump();
    };
    scheduler_ = std::make_unique<Scheduler>(*store_, sc);
    jobs_ = std::make_unique<JobService>(*store_, *scheduler_, config_.models_dir);
    exporter_ = std::make_unique<ModelExporter>(*store_, *blobs_, sc.worker_binary);
    scheduler_->start();
    // Estimates a previous server did not get to.
    for (const auto& job : store_->jobs_with_status({kJobQueued, kJobRunning, kJobPaused})) {
        auto e = ordered_json::parse(job.estimate_json, nullptr, false);
        if (e.is_object() && e.value("status", "") == "pending")
            queue_->submit("estimate " + job.id, [this, job] { estimator_->estimate_and_store(job); });
    }
}

Service::~Service() { shutdown(); }

void Service::shutdown() {
    if (exporter_) exporter_->stop();
    if (scheduler_) scheduler_->stop();
    if (queue_) queue_->stop();
}

}  // namespace llmtune::service
