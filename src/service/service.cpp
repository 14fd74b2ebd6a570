#include "service/service.h"

#include <filesystem>

#include "common/atomic_file.h"
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
    scheduler_ = std::make_unique<Scheduler>(*store_, sc);
    jobs_ = std::make_unique<JobService>(*store_, *scheduler_, config_.models_dir);
    scheduler_->start();
}

Service::~Service() { shutdown(); }

void Service::shutdown() {
    if (scheduler_) scheduler_->stop();
    if (queue_) queue_->stop();
}

}  // namespace llmtune::service
