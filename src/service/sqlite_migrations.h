// The SQLite schema as an ordered list of migrations. Each migration runs in its own
// transaction together with its row in schema_migrations, so a crash leaves the database at
// one version or the next, never between. Migrations are append-only: never edit one that
// has shipped; add the next number (migration 2 will add the jobs tables and their queue).
#pragma once

#include <vector>

namespace llmtune::service {

struct SqliteMigration {
    int version;
    const char* name;
    const char* sql;
};

const std::vector<SqliteMigration>& sqlite_migrations();

class SqliteConnection;

// Applies every migration newer than the database's version; returns the resulting version.
// conflict when the database is newer than this binary knows.
int migrate_sqlite(SqliteConnection& db);

}  // namespace llmtune::service
