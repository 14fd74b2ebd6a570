// SqliteStore: MetadataStore on one SQLite database file (<data-dir>/llmtune.db).
//
// WAL journal with synchronous=FULL: a committed transaction survives a SIGKILL or a power
// loss. A busy timeout (5 s) lets another process holding the write lock (a worker, a backup)
// delay a write instead of failing it. One connection, serialised by a mutex: the metadata
// operations are small, and SQLite allows one writer at a time anyway.
#pragma once

#include <memory>
#include <mutex>

#include "service/metadata_store.h"

namespace llmtune::service {

class SqliteConnection;

class SqliteStore : public MetadataStore {
  public:
    // Opens or creates the database and applies the pending migrations.
    explicit SqliteStore(const std::string& path);
    ~SqliteStore() override;

    int schema_version() override;

    void create_project(const Project& project) override;
    void create_project_with_key(const Project& project, const ApiKeyRecord& key) override;
    std::optional<Project> get_project(const std::string& id) override;
    std::vector<Project> list_projects() override;
    void create_api_key(const ApiKeyRecord& key) override;
    std::optional<ApiKeyRecord> find_active_key(const std::string& key_hash) override;
    std::vector<ApiKeyRecord> list_api_keys(const std::string& project_id) override;
    bool revoke_api_key(const std::string& project_id, const std::string& key_id,
                        int64_t now) override;

    void insert_file(const FileRecord& file) override;
    std::optional<FileRecord> get_file(const std::string& project_id,
                                       const std::string& id) override;
    Page<FileRecord> list_files(const std::string& project_id, const ListQuery& q) override;
    std::vector<FileRecord> files_with_status(const std::string& status) override;
    bool finish_file_processing(const std::string& id, const FileProcessingResult& result) override;
    std::optional<FileRecord> delete_file(const std::string& project_id,
                                          const std::string& id) override;
    int64_t blob_references(const std::string& sha256) override;

  private:
    std::unique_ptr<SqliteConnection> db_;
    std::mutex mutex_;
    int version_ = 0;
};

}  // namespace llmtune::service
