#include "service/sqlite_migrations.h"

#include "common/error.h"
#include "service/ids.h"
#include "service/sqlite_connection.h"

namespace llmtune::service {

const std::vector<SqliteMigration>& sqlite_migrations() {
    static const std::vector<SqliteMigration> all = {
        {1, "projects, api keys, files", R"sql(
CREATE TABLE projects (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  created_at  INTEGER NOT NULL
);
CREATE TABLE api_keys (
  id          TEXT PRIMARY KEY,
  project_id  TEXT NOT NULL REFERENCES projects(id),
  name        TEXT NOT NULL,
  key_hash    TEXT NOT NULL UNIQUE,
  redacted    TEXT NOT NULL,
  admin       INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL,
  revoked_at  INTEGER
);
CREATE INDEX api_keys_project ON api_keys(project_id);
-- seq gives a total creation order for pagination (created_at has one-second resolution).
CREATE TABLE files (
  seq                INTEGER PRIMARY KEY AUTOINCREMENT,
  id                 TEXT NOT NULL UNIQUE,
  project_id         TEXT NOT NULL REFERENCES projects(id),
  filename           TEXT NOT NULL,
  purpose            TEXT NOT NULL,
  bytes              INTEGER NOT NULL,
  created_at         INTEGER NOT NULL,
  blob_sha256        TEXT NOT NULL,
  status             TEXT NOT NULL,
  status_details     TEXT NOT NULL DEFAULT '',
  report_json        TEXT NOT NULL DEFAULT '',
  canonical_sha256   TEXT NOT NULL DEFAULT '',
  canonical_bytes    INTEGER NOT NULL DEFAULT 0,
  canonical_records  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX files_project_seq ON files(project_id, seq);
CREATE INDEX files_status ON files(status);
CREATE INDEX files_blob ON files(blob_sha256);
CREATE INDEX files_canonical ON files(canonical_sha256);
)sql"},
        {2, "fine-tuning jobs, job events, job checkpoints", R"sql(
-- The jobs table is the durable queue: the scheduler starts `queued` jobs in seq order.
CREATE TABLE jobs (
  seq                INTEGER PRIMARY KEY AUTOINCREMENT,
  id                 TEXT NOT NULL UNIQUE,
  project_id         TEXT NOT NULL REFERENCES projects(id),
  model              TEXT NOT NULL,
  training_file      TEXT NOT NULL,
  validation_file    TEXT NOT NULL DEFAULT '',
  suffix             TEXT NOT NULL DEFAULT '',
  seed               INTEGER NOT NULL,
  metadata_json      TEXT NOT NULL DEFAULT 'null',
  spec_json          TEXT NOT NULL,
  status             TEXT NOT NULL,
  created_at         INTEGER NOT NULL,
  finished_at        INTEGER,
  estimated_finish   INTEGER,
  fine_tuned_model   TEXT NOT NULL DEFAULT '',
  model_deleted      INTEGER NOT NULL DEFAULT 0,
  trained_tokens     INTEGER NOT NULL DEFAULT 0,
  last_step          INTEGER NOT NULL DEFAULT 0,
  error_code         TEXT NOT NULL DEFAULT '',
  error_message      TEXT NOT NULL DEFAULT '',
  error_param        TEXT NOT NULL DEFAULT '',
  result_files_json  TEXT NOT NULL DEFAULT '[]',
  attempts           INTEGER NOT NULL DEFAULT 0,
  resume             INTEGER NOT NULL DEFAULT 0,
  worker_pid         INTEGER NOT NULL DEFAULT 0,
  stop_request       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX jobs_project_seq ON jobs(project_id, seq);
CREATE INDEX jobs_status ON jobs(status);
CREATE INDEX jobs_model ON jobs(project_id, fine_tuned_model);
CREATE TABLE job_events (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  id          TEXT NOT NULL UNIQUE,
  job_id      TEXT NOT NULL REFERENCES jobs(id),
  created_at  INTEGER NOT NULL,
  level       TEXT NOT NULL,
  message     TEXT NOT NULL,
  type        TEXT NOT NULL,
  data_json   TEXT NOT NULL
);
CREATE INDEX job_events_job_seq ON job_events(job_id, seq);
CREATE TABLE job_checkpoints (
  seq                          INTEGER PRIMARY KEY AUTOINCREMENT,
  id                           TEXT NOT NULL UNIQUE,
  job_id                       TEXT NOT NULL REFERENCES jobs(id),
  created_at                   INTEGER NOT NULL,
  step                         INTEGER NOT NULL,
  metrics_json                 TEXT NOT NULL,
  fine_tuned_model_checkpoint  TEXT NOT NULL,
  path                         TEXT NOT NULL
);
CREATE INDEX job_checkpoints_job ON job_checkpoints(job_id, step);
)sql"},
        {3, "job estimates and running cost", R"sql(
ALTER TABLE jobs ADD COLUMN estimate_json TEXT NOT NULL DEFAULT 'null';
ALTER TABLE jobs ADD COLUMN cost_json TEXT NOT NULL DEFAULT 'null';
CREATE INDEX job_checkpoints_model ON job_checkpoints(fine_tuned_model_checkpoint);
)sql"},
    };
    return all;
}

int migrate_sqlite(SqliteConnection& db) {
    db.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
    int current = 0;
    {
        SqliteStatement q(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
        if (q.step()) current = static_cast<int>(q.integer(0));
    }
    const auto& all = sqlite_migrations();
    int latest = all.empty() ? 0 : all.back().version;
    if (current > latest)
        throw Error(ErrorKind::conflict,
                    db.path() + ": the database is at schema version " + std::to_string(current) +
                        ", newer than this llmtune knows (" + std::to_string(latest) + ")",
                    "run a newer llmtune, or point --data-dir at another directory");
    for (const auto& m : all) {
        if (m.version <= current) continue;
        SqliteTransaction tx(db);
        db.exec(m.sql);
        SqliteStatement ins(db,
                            "INSERT INTO schema_migrations(version, name, applied_at) "
                            "VALUES (?, ?, ?)");
        ins.bind(1, static_cast<int64_t>(m.version)).bind(2, std::string(m.name)).bind(3, unix_now());
        ins.run();
        tx.commit();
        current = m.version;
    }
    return current;
}

}  // namespace llmtune::service
