// SqliteStore: MetadataStore on one SQLite database file (<data-dir>/llmtune.db).
//
// WAL journal with synchronous=FULL: a committed transaction survives a SIGKILL or a power
// loss. A busy timeout (5 s) lets another process holding the write lock (a worker, a backup)
// delay a write instead of failing it.
//
// Concurrency: writes go through one connection, serialised by a mutex (SQLite allows one
// writer at a time anyway). Reads take a connection of their own from a small pool: in WAL
// mode a reader sees every transaction committed before it started and never waits for the
// writer, so a write's fsync (synchronous=FULL) no longer stalls every API read behind the
// mutex. Read-your-writes holds: a write has committed when its method returns. An in-memory
// database (":memory:") has no shared file, so its reads use the writer's connection.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

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

    // Jobs: defined in sqlite_job_store.cpp.
    void insert_job(const JobRecord& job) override;
    std::optional<JobRecord> get_job(const std::string& project_id, const std::string& id) override;
    std::optional<JobRecord> get_job_any(const std::string& id) override;
    Page<JobRecord> list_jobs(const std::string& project_id, const JobListQuery& q) override;
    std::vector<JobRecord> jobs_with_status(const std::vector<std::string>& statuses) override;
    void update_job(const JobRecord& job) override;
    std::optional<JobRecord> find_job_by_model(const std::string& project_id,
                                               const std::string& model) override;
    std::vector<JobRecord> list_fine_tuned_models(const std::string& project_id) override;
    bool set_job_estimate(const std::string& job_id, const std::string& estimate_json) override;
    int64_t add_job_event(const JobEventRecord& event) override;
    void update_job_with_event(const JobRecord& job, const JobEventRecord& event) override;
    Page<JobEventRecord> list_job_events(const std::string& job_id, const std::string& after,
                                         int64_t limit) override;
    std::vector<JobEventRecord> job_events_since(const std::string& job_id,
                                                 int64_t after_seq) override;
    void add_job_checkpoint(const JobCheckpointRecord& checkpoint) override;
    Page<JobCheckpointRecord> list_job_checkpoints(const std::string& job_id,
                                                   const std::string& after,
                                                   int64_t limit) override;
    std::vector<JobCheckpointRecord> list_project_checkpoints(
        const std::string& project_id) override;
    std::optional<JobCheckpointRecord> find_checkpoint_by_model(const std::string& project_id,
                                                                const std::string& model) override;

  private:
    // The statements behind update_job and add_job_event, run on the writer inside the
    // caller's lock and transaction.
    void write_job(const JobRecord& job);
    int64_t write_job_event(const JobEventRecord& event);

    // A read connection for the duration of one method (returned to the pool after), or the
    // writer's connection under its mutex for an in-memory database.
    class ReadLease {
      public:
        explicit ReadLease(SqliteStore& store);
        ~ReadLease();
        ReadLease(const ReadLease&) = delete;
        ReadLease& operator=(const ReadLease&) = delete;
        SqliteConnection& db() { return *db_; }

      private:
        SqliteStore& store_;
        std::unique_ptr<SqliteConnection> own_;
        std::unique_lock<std::mutex> writer_lock_;
        SqliteConnection* db_ = nullptr;
    };
    static constexpr size_t kMaxReaders = 8;

    std::unique_ptr<SqliteConnection> db_;
    std::mutex mutex_;
    int version_ = 0;
    std::string path_;
    bool pooled_reads_ = true;
    std::mutex readers_mutex_;
    std::condition_variable readers_cv_;
    std::vector<std::unique_ptr<SqliteConnection>> idle_readers_;
    size_t open_readers_ = 0;
};

}  // namespace llmtune::service
