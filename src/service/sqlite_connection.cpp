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
    int rc = sqlite3_open_v2(path.c_str(), &db_,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
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
    if (db_) sqlite3_close_v2(db_);
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

SqliteStatement::SqliteStatement(SqliteConnection& db, const char* sql) : db_(db), sql_(sql) {
    int rc = sqlite3_prepare_v2(db.handle(), sql, -1, &stmt_, nullptr);
    if (rc != SQLITE_OK) db_.fail("cannot prepare '" + sql_ + "'", rc);
}

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }

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
