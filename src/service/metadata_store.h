// MetadataStore: every piece of service metadata (projects, API keys, files; jobs later) goes
// through this interface. Each operation is one transaction: it either happens completely or
// not at all, and once it returns it survives a crash of the process.
//
// The service logic holds no SQL: SqliteStore (sqlite_store.h) implements this interface and a
// PostgreSQL backend can implement it later. Operations that read one project's objects take
// the project id, so another project's object is simply not found.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llmtune::service {

struct Project {
    std::string id;  // proj_...
    std::string name;
    int64_t created_at = 0;
};

struct ApiKeyRecord {
    std::string id;  // key_...
    std::string project_id;
    std::string name;
    std::string key_hash;  // sha256 hex of the key; the key itself is never stored
    std::string redacted;  // "sk-llmtune-abcd...wxyz"
    bool admin = false;    // may manage projects and keys
    int64_t created_at = 0;
    std::optional<int64_t> revoked_at;
};

// File statuses, as OpenAI names them.
inline constexpr const char* kFileUploaded = "uploaded";    // stored; not yet validated
inline constexpr const char* kFileProcessed = "processed";  // valid; canonical JSONL stored
inline constexpr const char* kFileError = "error";          // invalid; status_details says why

struct FileRecord {
    std::string id;  // file-...
    std::string project_id;
    std::string filename;
    std::string purpose;
    int64_t bytes = 0;
    int64_t created_at = 0;
    std::string blob_sha256;  // the uploaded bytes
    std::string status = kFileUploaded;
    std::string status_details;  // "" until processed
    std::string report_json;     // the validation report, "" until processed
    std::string canonical_sha256;  // canonical JSONL blob; "" unless processed
    int64_t canonical_bytes = 0;
    int64_t canonical_records = 0;
};

struct ListQuery {
    std::string after;     // cursor: an object id of the same project ("" = from the start)
    int64_t limit = 20;    // 1 ..
    bool ascending = false;  // by creation order
    std::string purpose;   // files only: "" = any
};

template <typename T>
struct Page {
    std::vector<T> items;
    bool has_more = false;
};

// The outcome of processing a file, written by finish_file_processing.
struct FileProcessingResult {
    std::string status;  // kFileProcessed or kFileError
    std::string status_details;
    std::string report_json;
    std::string canonical_sha256;
    int64_t canonical_bytes = 0;
    int64_t canonical_records = 0;
};

// Fine-tuning job statuses, as OpenAI names them (docs/api.md has the state machine).
inline constexpr const char* kJobValidatingFiles = "validating_files";
inline constexpr const char* kJobQueued = "queued";
inline constexpr const char* kJobRunning = "running";
inline constexpr const char* kJobSucceeded = "succeeded";
inline constexpr const char* kJobFailed = "failed";
inline constexpr const char* kJobCancelled = "cancelled";
inline constexpr const char* kJobPaused = "paused";

struct JobRecord {
    std::string id;  // ftjob-...
    std::string project_id;
    std::string model;  // the base model id
    std::string training_file;
    std::string validation_file;  // "" = none
    std::string suffix;           // "" = none
    int64_t seed = 0;
    std::string metadata_json = "null";  // the request's metadata object, or null
    std::string spec_json;  // the resolved job: method, hyperparameters, llmtune settings
    std::string status = kJobValidatingFiles;
    int64_t created_at = 0;
    std::optional<int64_t> finished_at;
    std::optional<int64_t> estimated_finish;
    std::string fine_tuned_model;  // "" until succeeded
    bool model_deleted = false;    // DELETE /v1/models/{id} removed the fine-tuned model
    int64_t trained_tokens = 0;    // tokens of the optimizer steps done (each step counted once)
    int64_t last_step = 0;         // the newest step counted in trained_tokens
    std::string error_code, error_message, error_param;  // "" unless failed
    std::string result_files_json = "[]";
    int64_t attempts = 0;   // worker starts that ended in a retryable failure
    bool resume = false;    // the next worker start continues from the last checkpoint
    int64_t worker_pid = 0; // the running worker's pid (0 when none)
    std::string stop_request;  // "" | "cancel" | "pause": what the SIGTERM sent was for
    // The estimate made when the job was queued (train::Estimate::to_json plus the hardware
    // asked for), or {"error": ...} when none could be made; null before. Written only by
    // set_job_estimate, never by update_job.
    std::string estimate_json = "null";
    // Cost so far and projected, from measured throughput while the job runs (job_cost.h);
    // null before the first training step.
    std::string cost_json = "null";
};

struct JobEventRecord {
    std::string id;  // ftevent-...
    std::string job_id;
    int64_t seq = 0;  // total order (set by the store)
    int64_t created_at = 0;
    std::string level = "info";  // info | warn | error
    std::string message;
    std::string type = "message";  // message | metrics
    std::string data_json = "{}";
};

struct JobCheckpointRecord {
    std::string id;  // ftckpt-...
    std::string job_id;
    int64_t created_at = 0;
    int64_t step = 0;
    std::string metrics_json = "{}";
    std::string fine_tuned_model_checkpoint;
    std::string path;  // the checkpoint directory
};

struct JobListQuery {
    std::string after;  // a job id of the project ("" = from the newest)
    int64_t limit = 20;
    // metadata filter: every pair must match the job's metadata
    std::vector<std::pair<std::string, std::string>> metadata;
};

class MetadataStore {
  public:
    virtual ~MetadataStore() = default;

    // The schema version the database is at (the last migration applied).
    virtual int schema_version() = 0;

    // Projects and keys.
    virtual void create_project(const Project& project) = 0;
    // Creates a project and a key bound to it together (first start: the admin key).
    virtual void create_project_with_key(const Project& project, const ApiKeyRecord& key) = 0;
    virtual std::optional<Project> get_project(const std::string& id) = 0;
    virtual std::vector<Project> list_projects() = 0;
    // conflict when the project does not exist.
    virtual void create_api_key(const ApiKeyRecord& key) = 0;
    // A key that is not revoked, by its hash.
    virtual std::optional<ApiKeyRecord> find_active_key(const std::string& key_hash) = 0;
    virtual std::vector<ApiKeyRecord> list_api_keys(const std::string& project_id) = 0;
    // False when no such active key in that project.
    virtual bool revoke_api_key(const std::string& project_id, const std::string& key_id,
                                int64_t now) = 0;

    // Files.
    virtual void insert_file(const FileRecord& file) = 0;
    virtual std::optional<FileRecord> get_file(const std::string& project_id,
                                               const std::string& id) = 0;
    // not_found (param "after") when the cursor is not a file of this project.
    virtual Page<FileRecord> list_files(const std::string& project_id, const ListQuery& q) = 0;
    // Every file with this status, all projects, oldest first (recovery at start).
    virtual std::vector<FileRecord> files_with_status(const std::string& status) = 0;
    // Records the outcome of processing, only if the file still exists and is still
    // `uploaded`; false otherwise (deleted meanwhile, or processed by someone else).
    virtual bool finish_file_processing(const std::string& id,
                                        const FileProcessingResult& result) = 0;
    // Deletes the file's row; returns the deleted record, or nothing when not found.
    virtual std::optional<FileRecord> delete_file(const std::string& project_id,
                                                  const std::string& id) = 0;
    // How many files (any project) reference the blob as upload or canonical form.
    virtual int64_t blob_references(const std::string& sha256) = 0;

    // Fine-tuning jobs (sqlite_job_store.cpp). Lists are newest first.
    virtual void insert_job(const JobRecord& job) = 0;
    virtual std::optional<JobRecord> get_job(const std::string& project_id,
                                             const std::string& id) = 0;
    // Any project: the scheduler's view.
    virtual std::optional<JobRecord> get_job_any(const std::string& id) = 0;
    // not_found (param "after") when the cursor is not a job of this project.
    virtual Page<JobRecord> list_jobs(const std::string& project_id, const JobListQuery& q) = 0;
    // Jobs in any of these statuses, all projects, oldest first (the durable queue).
    virtual std::vector<JobRecord> jobs_with_status(const std::vector<std::string>& statuses) = 0;
    // Writes every mutable field of the job (status, resolved spec, progress, outcome, worker
    // state).
    virtual void update_job(const JobRecord& job) = 0;
    // The succeeded job whose fine-tuned model has this id, in this project.
    virtual std::optional<JobRecord> find_job_by_model(const std::string& project_id,
                                                       const std::string& model) = 0;
    // Fine-tuned models (succeeded, not deleted) of the project, newest first.
    virtual std::vector<JobRecord> list_fine_tuned_models(const std::string& project_id) = 0;
    // Stores the job's estimate (only that column: the scheduler's update_job calls never
    // overwrite it). False when there is no such job.
    virtual bool set_job_estimate(const std::string& job_id, const std::string& estimate_json) = 0;

    // Appends an event; returns its seq.
    virtual int64_t add_job_event(const JobEventRecord& event) = 0;
    // update_job and add_job_event in one transaction: a job settles together with the event
    // that says so, so no reader sees the status without its event or the event without it.
    virtual void update_job_with_event(const JobRecord& job, const JobEventRecord& event) = 0;
    // Newest first, after the cursor (an event id of the job).
    virtual Page<JobEventRecord> list_job_events(const std::string& job_id, const std::string& after,
                                                 int64_t limit) = 0;
    // Oldest first: the events with seq > after_seq (the event stream).
    virtual std::vector<JobEventRecord> job_events_since(const std::string& job_id,
                                                         int64_t after_seq) = 0;
    virtual void add_job_checkpoint(const JobCheckpointRecord& checkpoint) = 0;
    // Newest (highest step) first, after the cursor (a checkpoint id of the job).
    virtual Page<JobCheckpointRecord> list_job_checkpoints(const std::string& job_id,
                                                           const std::string& after,
                                                           int64_t limit) = 0;
    // Every checkpoint of the project's jobs whose fine-tuned model was not deleted, newest
    // first (the checkpoint models of GET /v1/models).
    virtual std::vector<JobCheckpointRecord> list_project_checkpoints(
        const std::string& project_id) = 0;
    // The checkpoint named `ft:...:ckpt-step-N` in this project (same filter as above).
    virtual std::optional<JobCheckpointRecord> find_checkpoint_by_model(
        const std::string& project_id, const std::string& model) = 0;
};

}  // namespace llmtune::service
