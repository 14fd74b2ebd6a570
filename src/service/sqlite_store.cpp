#include "service/sqlite_store.h"

#include "common/error.h"
#include "service/service_error.h"
#include "service/sqlite_connection.h"
#include "service/sqlite_migrations.h"

namespace llmtune::service {

namespace {

constexpr const char* kFileColumns =
    "id, project_id, filename, purpose, bytes, created_at, blob_sha256, status, status_details, "
    "report_json, canonical_sha256, canonical_bytes, canonical_records";

FileRecord read_file_row(const SqliteStatement& s) {
    FileRecord f;
    f.id = s.text(0);
    f.project_id = s.text(1);
    f.filename = s.text(2);
    f.purpose = s.text(3);
    f.bytes = s.integer(4);
    f.created_at = s.integer(5);
    f.blob_sha256 = s.text(6);
    f.status = s.text(7);
    f.status_details = s.text(8);
    f.report_json = s.text(9);
    f.canonical_sha256 = s.text(10);
    f.canonical_bytes = s.integer(11);
    f.canonical_records = s.integer(12);
    return f;
}

constexpr const char* kKeyColumns =
    "id, project_id, name, key_hash, redacted, admin, created_at, revoked_at";

ApiKeyRecord read_key_row(const SqliteStatement& s) {
    ApiKeyRecord k;
    k.id = s.text(0);
    k.project_id = s.text(1);
    k.name = s.text(2);
    k.key_hash = s.text(3);
    k.redacted = s.text(4);
    k.admin = s.integer(5) != 0;
    k.created_at = s.integer(6);
    if (!s.is_null(7)) k.revoked_at = s.integer(7);
    return k;
}

void insert_project(SqliteConnection& db, const Project& p) {
    SqliteStatement s(db, "INSERT INTO projects(id, name, created_at) VALUES (?, ?, ?)");
    s.bind(1, p.id).bind(2, p.name).bind(3, p.created_at);
    s.run();
}

void insert_key(SqliteConnection& db, const ApiKeyRecord& k) {
    SqliteStatement exists(db, "SELECT 1 FROM projects WHERE id = ?");
    exists.bind(1, k.project_id);
    if (!exists.step()) throw_no_such("Project", k.project_id, "project_id");
    SqliteStatement s(db,
                      "INSERT INTO api_keys(id, project_id, name, key_hash, redacted, admin, "
                      "created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    s.bind(1, k.id).bind(2, k.project_id).bind(3, k.name).bind(4, k.key_hash).bind(5, k.redacted);
    s.bind(6, static_cast<int64_t>(k.admin ? 1 : 0)).bind(7, k.created_at).bind(8, k.revoked_at);
    s.run();
}

}  // namespace

SqliteStore::SqliteStore(const std::string& path) : db_(std::make_unique<SqliteConnection>(path)) {
    // WAL: readers never block the writer. synchronous=FULL: a commit is on disk when it
    // returns (NORMAL would survive a process crash but not a power loss).
    db_->exec("PRAGMA journal_mode=WAL");
    db_->exec("PRAGMA synchronous=FULL");
    db_->exec("PRAGMA foreign_keys=ON");
    db_->exec("PRAGMA busy_timeout=5000");
    version_ = migrate_sqlite(*db_);
    path_ = path;
    pooled_reads_ = !path.empty() && path != ":memory:" && path.rfind("file::memory:", 0) != 0;
}

SqliteStore::~SqliteStore() = default;

SqliteStore::ReadLease::ReadLease(SqliteStore& store) : store_(store) {
    if (!store_.pooled_reads_) {
        writer_lock_ = std::unique_lock<std::mutex>(store_.mutex_);
        db_ = store_.db_.get();
        return;
    }
    std::unique_lock<std::mutex> lock(store_.readers_mutex_);
    store_.readers_cv_.wait(lock, [this] {
        return !store_.idle_readers_.empty() || store_.open_readers_ < kMaxReaders;
    });
    if (!store_.idle_readers_.empty()) {
        own_ = std::move(store_.idle_readers_.back());
        store_.idle_readers_.pop_back();
    } else {
        ++store_.open_readers_;  // reserved before opening, outside the lock
        lock.unlock();
        try {
            own_ = std::make_unique<SqliteConnection>(store_.path_);
            own_->exec("PRAGMA busy_timeout=5000");
            own_->exec("PRAGMA query_only=1");
        } catch (...) {
            std::lock_guard<std::mutex> again(store_.readers_mutex_);
            --store_.open_readers_;
            store_.readers_cv_.notify_one();
            throw;
        }
    }
    db_ = own_.get();
}

SqliteStore::ReadLease::~ReadLease() {
    if (!own_) return;
    std::lock_guard<std::mutex> lock(store_.readers_mutex_);
    store_.idle_readers_.push_back(std::move(own_));
    store_.readers_cv_.notify_one();
}

int SqliteStore::schema_version() {
    std::lock_guard<std::mutex> lock(mutex_);
    return version_;
}

void SqliteStore::create_project(const Project& project) {
    std::lock_guard<std::mutex> lock(mutex_);
    SqliteTransaction tx(*db_);
    insert_project(*db_, project);
    tx.commit();
}

void SqliteStore::create_project_with_key(const Project& project, const ApiKeyRecord& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    SqliteTransaction tx(*db_);
    insert_project(*db_, project);
    insert_key(*db_, key);
    tx.commit();
}

std::optional<Project> SqliteStore::get_project(const std::string& id) {
    ReadLease lease(*this);
    SqliteConnection& rdb = lease.db();
    SqliteStatement s(rdb, "SELECT id, name, created_at FROM projects WHERE id = ?");
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    return Project{s.text(0), s.text(1), s.integer(2)};
}

std::vector<Project> SqliteStore::list_projects() {
    ReadLease lease(*this);
    SqliteConnection& rdb = lease.db();
    SqliteStatement s(rdb, "SELECT id, name, created_at FROM projects ORDER BY created_at, id");
    std::vector<Project> out;
    while (s.step()) out.push_back(Project{s.text(0), s.text(1), s.integer(2)});
    return out;
}

void SqliteStore::create_api_key(const ApiKeyRecord& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    SqliteTransaction tx(*db_);
    insert_key(*db_, key);
    tx.commit();
}

std::optional<ApiKeyRecord> SqliteStore::find_active_key(const std::string& key_hash) {
    ReadLease lease(*this);
    SqliteConnection& rdb = lease.db();
    SqliteStatement s(rdb, (std::string("SELECT ") + kKeyColumns +
                             " FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL")
                                .c_str());
    s.bind(1, key_hash);
    if (!s.step()) return std::nullopt;
    return read_key_row(s);
}

std::vector<ApiKeyRecord> SqliteStore::list_api_keys(const std::string& project_id) {
    ReadLease lease(*this);
    SqliteConnection& rdb = lease.db();
    SqliteStatement s(rdb, (std::string("SELECT ") + kKeyColumns +
                             " FROM api_keys WHERE project_id = ? ORDER BY created_at, id")
                                .c_str());
    s.bind(1, project_id);
    std::vector<ApiKeyRecord> out;
    while (s.step()) out.push_back(read_key_row(s));
    return out;
}

bool SqliteStore::revoke_api_key(const std::string& project_id, const std::string& key_id,
                                 int64_t now) {
    std::lock_guard<std::mutex> lock(mutex_);
    SqliteTransaction tx(*db_);
    SqliteStatement s(*db_,
                      "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND project_id = ? AND "
                      "revoked_at IS NULL");
    s.bind(1, now).bind(2, key_id).bind(3, project_id);
    s.run();
    bool changed = s.changes() > 0;
    tx.commit();
    return changed;
}

void SqliteStore::insert_file(const FileRecord& f) {
    std::lock_guard<std::mutex> lock(mutex_);
    SqliteTransaction tx(*db_);
    SqliteStatement s(*db_, (std::string("INSERT INTO files(") + kFileColumns +
                             ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                                .c_str());
    s.bind(1, f.id).bind(2, f.project_id).bind(3, f.filename).bind(4, f.purpose);
    s.bind(5, f.bytes).bind(6, f.created_at).bind(7, f.blob_sha256).bind(8, f.status);
    s.bind(9, f.status_details).bind(10, f.report_json).bind(11, f.canonical_sha256);
    s.bind(12, f.canonical_bytes).bind(13, f.canonical_records);
    s.run();
    tx.commit();
}

std::optional<FileRecord> SqliteStore::get_file(const std::string& project_id,
                                                const std::string& id) {
    ReadLease lease(*this);
    SqliteConnection& rdb = lease.db();
    SqliteStatement s(rdb, (std::string("SELECT ") + kFileColumns +
                             " FROM files WHERE id = ? AND project_id = ?")
                                .c_str());
    s.bind(1, id).bind(2, project_id);
    if (!s.step()) return std::nullopt;
    return read_file_row(s);
}

Page<FileRecord> SqliteStore::list_files(const std::string& project_id, const ListQuery& q) {
    LLMTUNE_ASSERT(q.limit > 0, "list limit checked by the caller");
    ReadLease lease(*this);
    SqliteConnection& rdb = lease.db();
    int64_t cursor = q.ascending ? 0 : INT64_MAX;
    if (!q.after.empty()) {
        SqliteStatement c(rdb, "SELECT seq FROM files WHERE id = ? AND project_id = ?");
        c.bind(1, q.after).bind(2, project_id);
        if (!c.step()) throw_no_such("File", q.after, "after");
        cursor = c.integer(0);
    }
    std::string sql = std::string("SELECT ") + kFileColumns +
                      " FROM files WHERE project_id = ? AND (? = '' OR purpose = ?) AND seq " +
                      (q.ascending ? "> ? ORDER BY seq ASC" : "< ? ORDER BY seq DESC") +
                      " LIMIT ?";
    SqliteStatement s(rdb, sql.c_str());
    s.bind(1, project_id).bind(2, q.purpose).bind(3, q.purpose).bind(4, cursor);
    s.bind(5, q.limit + 1);  // one more than asked tells whether there is a next page
    Page<FileRecord> page;
    while (s.step()) page.items.push_back(read_file_row(s));
    if (static_cast<int64_t>(page.items.size()) > q.limit) {
        page.items.pop_back();
        page.has_more = true;
    }
    return page;
}

std::vector<FileRecord> SqliteStore::files_with_status(const std::string& status) {
    ReadLease lease(*this);
    SqliteConnection& rdb = lease.db();
    SqliteStatement s(
        rdb, (std::string("SELECT ") + kFileColumns + " FROM files WHERE status = ? ORDER BY seq")
                  .c_str());
    s.bind(1, status);
    std::vector<FileRecord> out;
    while (s.step()) out.push_back(read_file_row(s));
    return out;
}

bool SqliteStore::finish_file_processing(const std::string& id, const FileProcessingResult& r) {
    std::lock_guard<std::mutex> lock(mutex_);
    SqliteTransaction tx(*db_);
    SqliteStatement s(*db_,
                      "UPDATE files SET status = ?, status_details = ?, report_json = ?, "
                      "canonical_sha256 = ?, canonical_bytes = ?, canonical_records = ? "
                      "WHERE id = ? AND status = ?");
    s.bind(1, r.status).bind(2, r.status_details).bind(3, r.report_json);
    s.bind(4, r.canonical_sha256).bind(5, r.canonical_bytes).bind(6, r.canonical_records);
    s.bind(7, id).bind(8, std::string(kFileUploaded));
    s.run();
    bool changed = s.changes() > 0;
    tx.commit();
    return changed;
}

std::optional<FileRecord> SqliteStore::delete_file(const std::string& project_id,
                                                   const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex_);
    SqliteTransaction tx(*db_);
    FileRecord f;
    {
        SqliteStatement g(*db_, (std::string("SELECT ") + kFileColumns +
                                 " FROM files WHERE id = ? AND project_id = ?")
                                    .c_str());
        g.bind(1, id).bind(2, project_id);
        if (!g.step()) return std::nullopt;
        f = read_file_row(g);
    }
    SqliteStatement d(*db_, "DELETE FROM files WHERE id = ? AND project_id = ?");
    d.bind(1, id).bind(2, project_id);
    d.run();
    tx.commit();
    return f;
}

int64_t SqliteStore::blob_references(const std::string& sha256) {
    ReadLease lease(*this);
    SqliteConnection& rdb = lease.db();
    SqliteStatement s(rdb,
                      "SELECT (SELECT COUNT(*) FROM files WHERE blob_sha256 = ?1) + "
                      "(SELECT COUNT(*) FROM files WHERE canonical_sha256 = ?1)");
    s.bind(1, sha256);
    s.step();
    return s.integer(0);
}

}  // namespace llmtune::service
