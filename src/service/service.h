// Service: everything `llmtune serve` does apart from HTTP, wired together over one data dir.
//
//   <data-dir>/llmtune.db        metadata (SqliteStore)
//   <data-dir>/blobs/sha256/...  uploads and artifacts (BlobStore); with an S3 store, the
//                                local cache of the bucket's blobs (s3_blob_store.h)
//   <data-dir>/work/             scratch space of background tasks
//   <data-dir>/admin.key         the admin key (mode 0600)
//
// Start-up order: open the store (migrations), the blob store (stale temp files removed), make
// sure an admin key exists, then start the background queue and re-queue unfinished work,
// then the job scheduler (which resumes jobs a previous server left running).
// shutdown() stops the scheduler's workers (they checkpoint; see scheduler.h), then the queue
// (see work_queue.h for what happens to tasks in flight).
#pragma once

#include <memory>
#include <string>

#include "service/auth.h"
#include "service/blob_store.h"
#include "service/blob_store_config.h"
#include "service/file_service.h"
#include "service/job_estimate.h"
#include "service/job_service.h"
#include "service/model_export.h"
#include "service/scheduler.h"
#include "service/metadata_store.h"
#include "service/work_queue.h"

namespace llmtune::service {

struct ServiceConfig {
    std::string data_dir;            // created when missing
    std::string models_dir;          // base models; may not exist
    size_t file_workers = 1;         // threads validating/converting uploads
    std::string worker_binary;       // `llmtune worker`'s binary ("" = this executable)
    int max_concurrent_jobs = 1;     // training workers at once (one per device)
    int max_job_retries = 2;         // worker restarts after a crash before a job fails
    int worker_threads = 0;          // torch threads per worker (0 = one per core)
    StoreConfig store;               // where blobs live: the data dir or S3 (blob_store_config.h)
};

class Service {
  public:
    explicit Service(ServiceConfig config);
    ~Service();

    const ServiceConfig& config() const { return config_; }
    MetadataStore& store() { return *store_; }
    BlobStore& blobs() { return *blobs_; }
    Auth& auth() { return *auth_; }
    FileService& files() { return *files_; }
    WorkQueue& queue() { return *queue_; }
    Scheduler& scheduler() { return *scheduler_; }
    JobService& jobs() { return *jobs_; }
    JobEstimator& estimator() { return *estimator_; }
    ModelExporter& exporter() { return *exporter_; }
    const AdminKeyBootstrap& admin_key() const { return admin_; }

    void shutdown();

  private:
    ServiceConfig config_;
    std::unique_ptr<MetadataStore> store_;
    std::unique_ptr<BlobStore> blobs_;
    std::unique_ptr<Auth> auth_;
    std::unique_ptr<WorkQueue> queue_;
    std::unique_ptr<FileService> files_;
    std::unique_ptr<JobEstimator> estimator_;
    std::unique_ptr<Scheduler> scheduler_;
    std::unique_ptr<JobService> jobs_;
    std::unique_ptr<ModelExporter> exporter_;
    AdminKeyBootstrap admin_;
};

}  // namespace llmtune::service
