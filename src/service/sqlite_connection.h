// A thin RAII layer over the SQLite C API: a connection, prepared statements with typed
// binds and columns, and a transaction guard. Every failure is an llmtune::Error naming the
// statement and SQLite's message.
//
// Threads: a connection is opened in SQLite's multi-thread mode (no mutex of its own), so it
// must be used by one thread at a time; SqliteStore guarantees that (its writer mutex, its
// read leases). Each connection keeps its prepared statements, keyed by SQL text, for reuse:
// a statement is reset and returned to the cache when its SqliteStatement ends (one in use at
// a time per SQL text; a second concurrent use prepares its own).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

namespace llmtune::service {

class SqliteConnection;

class SqliteStatement {
  public:
    SqliteStatement(SqliteConnection& db, const char* sql);
    ~SqliteStatement();
    SqliteStatement(const SqliteStatement&) = delete;
    SqliteStatement& operator=(const SqliteStatement&) = delete;

    // Binds by 1-based index; returns *this for chaining.
    SqliteStatement& bind(int i, const std::string& v);
    SqliteStatement& bind(int i, int64_t v);
    SqliteStatement& bind_null(int i);
    SqliteStatement& bind(int i, const std::optional<int64_t>& v);

    // One step: true when a row is available, false when done.
    bool step();
    // Runs a statement that returns no rows.
    void run();
    // Rows changed by the last run().
    int64_t changes() const;

    std::string text(int col) const;  // "" for NULL
    int64_t integer(int col) const;   // 0 for NULL
    bool is_null(int col) const;

  private:
    SqliteConnection& db_;
    sqlite3_stmt* stmt_ = nullptr;
    std::string sql_;
};

class SqliteConnection {
  public:
    // Opens (creating) the database file; io error on failure.
    explicit SqliteConnection(const std::string& path);
    ~SqliteConnection();
    SqliteConnection(const SqliteConnection&) = delete;
    SqliteConnection& operator=(const SqliteConnection&) = delete;

    // Runs one or more statements without results (schema, pragmas).
    void exec(const std::string& sql);
    sqlite3* handle() { return db_; }
    const std::string& path() const { return path_; }

    // Throws an error about `what` with SQLite's current message.
    [[noreturn]] void fail(const std::string& what, int rc);

    // A prepared statement for `sql`: the cached one when free, else a new one.
    sqlite3_stmt* acquire(const std::string& sql);
    // Resets it and keeps it for the next acquire of the same SQL (or finalizes it).
    void release(const std::string& sql, sqlite3_stmt* stmt);

  private:
    sqlite3* db_ = nullptr;
    std::string path_;
    std::unordered_map<std::string, sqlite3_stmt*> statements_;  // free ones, by SQL
};

// BEGIN IMMEDIATE on construction (the write lock is taken up front, so two writers never
// deadlock upgrading a read lock); ROLLBACK on destruction unless commit() ran.
class SqliteTransaction {
  public:
    explicit SqliteTransaction(SqliteConnection& db);
    ~SqliteTransaction();
    void commit();

  private:
    SqliteConnection& db_;
    bool done_ = false;
};

}  // namespace llmtune::service
