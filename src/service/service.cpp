#include "service/service.h"

#include <filesystem>

#include "common/atomic_file.h"
#include "service/sqlite_store.h"

namespace llmtune::service {

Service::Service(ServiceConfig config) : config_(std::move(config)) {
    make_dirs(config_.data_dir);
    config_.data_dir = std::filesystem::absolute(config_.data_dir).lexically_normal().string();
    store_ = std::make_unique<SqliteStore>(config_.data_dir + "/llmtune.db");
    blobs_ = std::make_unique<BlobStore>(config_.data_dir);
    auth_ = std::make_unique<Auth>(*store_);
    admin_ = auth_->ensure_admin_key(config_.data_dir);
    queue_ = std::make_unique<WorkQueue>(config_.file_workers);
    files_ = std::make_unique<FileService>(*store_, *blobs_, *queue_, config_.data_dir);
    files_->recover();
}

Service::~Service() { shutdown(); }

void Service::shutdown() {
    if (queue_) queue_->stop();
}

}  // namespace llmtune::service
