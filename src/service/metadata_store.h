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
};

}  // namespace llmtune::service
