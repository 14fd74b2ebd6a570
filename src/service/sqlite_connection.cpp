#include "service/sqlite_connection.h"

#include <sqlite3.h>

#include "common/error.h"

namespace llmtune::service {

namespace {
ErrorKind kind_for(int rc) {
    switch (rc & 0xff) {
        case SQLITE_CONSTRAINT:
            return ErrorKind::conflict;
        case SQLITE_FULL:
            return ErrorKind::resource_exhausted;
        default:
            return ErrorKind::io;
    }
}
}  // namespace

SqliteConnection::SqliteConnection(const std::string& path) : path_(path) {
    // No process-wide allocation statistics: with them every SQLite allocation in every
    // connection takes one global mutex. Only effective before SQLite initializes (the first
    // connection); later it is refused and changes nothing.
    static const int memstatus_off = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    (void)memstatus_off;
    int rc = sqlite3_open_v2(path.c_str(), &db_,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
        sqlite3_close(db_);
        db_ = nullptr;
        throw_io(path + ": cannot open the database: " + msg,
                 "check that the data dir exists and is writable");
    }
    sqlite3_extended_result_codes(db_, 1);
}

SqliteConnection::~SqliteConnection() {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    if (db_) sqlite3_close_v2(db_);
}

sqlite3_stmt* SqliteConnection::acquire(const std::string& sql) {
    auto it = statements_.find(sql);
    if (it != statements_.end()) {
        sqlite3_stmt* stmt = it->second;
        statements_.erase(it);
        return stmt;
    }
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(stmt);
        fail("cannot prepare '" + sql + "'", rc);
    }
    return stmt;
}

void SqliteConnection::release(const std::string& sql, sqlite3_stmt* stmt) {
    if (!stmt) return;
    sqlite3_reset(stmt);  // ends its read (or reports an earlier error, already thrown)
    sqlite3_clear_bindings(stmt);
    if (statements_.count(sql)) {
        sqlite3_finalize(stmt);  // another copy is already cached
        return;
    }
    statements_.emplace(sql, stmt);
}

void SqliteConnection::fail(const std::string& what, int rc) {
    throw Error(kind_for(rc), path_ + ": " + what + ": " + sqlite3_errmsg(db_) + " (" +
                                  sqlite3_errstr(rc) + ")");
}

void SqliteConnection::exec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        std::string msg = err ? err : sqlite3_errstr(rc);
        sqlite3_free(err);
        throw Error(kind_for(rc), path_ + ": " + msg + " in: " + sql.substr(0, 200));
    }
}

SqliteStatement::SqliteStatement(SqliteConnection& db, const char* sql)
    : db_(db), sql_(sql) {
    stmt_ = db_.acquire(sql_);
}

SqliteStatement::~SqliteStatement() { db_.release(sql_, stmt_); }

SqliteStatement& SqliteStatement::bind(int i, const std::string& v) {
    int rc = sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) db_.fail("bind failed in '" + sql_ + "'", rc);
    return *this;
}

SqliteStatement& SqliteStatement::bind(int i, int64_t v) {
    int rc = sqlite3_bind_int64(stmt_, i, v);
    if (rc != SQLITE_OK) db_.fail("bind failed in '" + sql_ + "'", rc);
    return *this;
}

SqliteStatement& SqliteStatement::bind_null(int i) {
    int rc = sqlite3_bind_null(stmt_, i);
    if (rc != SQLITE_OK) db_.fail("bind failed in '" + sql_ + "'", rc);
    return *this;
}

SqliteStatement& SqliteStatement::bind(int i, const std::optional<int64_t>& v) {
    return v ? bind(i, *v) : bind_null(i);
}

bool SqliteStatement::step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    db_.fail("'" + sql_ + "' failed", rc);
}

void SqliteStatement::run() {
    while (step()) {
    }
}

int64_t SqliteStatement::changes() const { return sqlite3_changes64(db_.handle()); }

std::string SqliteStatement::text(int col) const {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    if (!p) return "";
    return std::string(reinterpret_cast<const char*>(p),
                       static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

int64_t SqliteStatement::integer(int col) const { return sqlite3_column_int64(stmt_, col); }

bool SqliteStatement::is_null(int col) const {
    return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

SqliteTransaction::SqliteTransaction(SqliteConnection& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

SqliteTransaction::~SqliteTransaction() {
    if (!done_) {
        try {
            db_.exec("ROLLBACK");
        } catch (...) {
            // The transaction may already be rolled back by SQLite after an error.
        }
    }
}

void SqliteTransaction::commit() {
    db_.exec("COMMIT");
    done_ = true;
}

}  // namespace llmtune::service
