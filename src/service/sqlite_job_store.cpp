// SqliteStore's fine-tuning job operations: jobs (the durable queue), their events and their
// checkpoints (tables of migration 2). Each method is one transaction under the store's mutex.
#include "common/error.h"
#include "service/service_error.h"
#include "service/sqlite_connection.h"
#include "service/sqlite_store.h"

namespace llmtune::service {

namespace {

constexpr const char* kJobColumns =
    "id, project_id, model, training_file, validation_file, suffix, seed, metadata_json, "
    "spec_json, status, created_at, finished_at, estimated_finish, fine_tuned_model, "
    "model_deleted, trained_tokens, last_step, error_code, error_message, error_param, "
    "result_files_json, attempts, resume, worker_pid, stop_request, estimate_json, cost_json";

JobRecord read_job_row(const SqliteStatement& s) {
    JobRecord j;
    j.id = s.text(0);
    j.project_id = s.text(1);
    j.model = s.text(2);
    j.training_file = s.text(3);
    j.validation_file = s.text(4);
    j.suffix = s.text(5);
    j.seed = s.integer(6);
    j.metadata_json = s.text(7);
    j.spec_json = s.text(8);
    j.status = s.text(9);
    j.created_at = s.integer(10);
    if (!s.is_null(11)) j.finished_at = s.integer(11);
    if (!s.is_null(12)) j.estimated_finish = s.integer(12);
    j.fine_tuned_model = s.text(13);
    j.model_deleted = s.integer(14) != 0;
    j.trained_tokens = s.integer(15);
    j.last_step = s.integer(16);
    j.error_code = s.text(17);
    j.error_message = s.text(18);
    j.error_param = s.text(19);
    j.result_files_json = s.text(20);
    j.attempts = s.integer(21);
    j.resume = s.integer(22) != 0;
    j.worker_pid = s.integer(23);
    j.stop_request = s.text(24);
    j.estimate_json = s.text(25);
    j.cost_json = s.text(26);
    return j;
}

constexpr const char* kEventColumns =
    "id, job_id, seq, created_at, level, message, type, data_json";

JobEventRecord read_event_row(const SqliteStatement& s) {
    JobEventRecord e;
    e.id = s.text(0);
    e.job_id = s.text(1);
    e.seq = s.integer(2);
    e.created_at = s.integer(3);
    e.level = s.text(4);
    e.message = s.text(5);
    e.type = s.text(6);
    e.data_json = s.text(7);
    return e;
}

constexpr const char* kCheckpointColumns =
    "id, job_id, created_at, step, metrics_json, fine_tuned_model_checkpoint, path";

JobCheckpointRecord read_checkpoint_row(const SqliteStatement& s) {
    JobCheckpointRecord c;
    c.id = s.text(0);
    c.job_id = s.text(1);
    c.created_at = s.integer(2);
    c.step = s.integer(3);
    c.metrics_json = s.text(4);
    c.fine_tuned_model_checkpoint = s.text(5);
    c.path = s.text(6);
    return c;
}

std::string select_jobs(const std::string& where) {
    return std::string("SELECT ") + kJobColumns + " FROM jobs WHERE " + where;
}

}  // namespace

void SqliteStore::insert_job(const JobRecord& j) {
    std::lock_guard<std::mutex> lock(mutex_);
    SqliteTransaction tx(*db_);
    SqliteStatement s(*db_, (std::string("INSERT INTO jobs(") + kJobColumns +
                             ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                             "?, ?, ?, ?, ?, ?, ?, ?)")
                                .c_str());
    s.bind(1, j.id).bind(2, j.project_id).bind(3, j.model).bind(4, j.training_file);
    s.bind(5, j.validation_file).bind(6, j.suffix).bind(7, j.seed).bind(8, j.metadata_json);
    s.bind(9, j.spec_json).bind(10, j.status).bind(11, j.created_at).bind(12, j.finished_at);
    s.bind(13, j.estimated_finish).bind(14, j.fine_tuned_model);
    s.bind(15, static_cast<int64_t>(j.model_deleted)).bind(16, j.trained_tokens);
    s.bind(17, j.last_step).bind(18, j.error_code).bind(19, j.error_message);
    s.bind(20, j.error_param).bind(21, j.result_files_json).bind(22, j.attempts);
    s.bind(23, static_cast<int64_t>(j.resume)).bind(24, j.worker_pid).bind(25, j.stop_request);
    s.bind(26, j.estimate_json).bind(27, j.cost_json);
    s.run();
    tx.commit();
}

std::optional<JobRecord> SqliteStore::get_job(const std::string& project_id,
                                              const std::string& id) {
    ReadLease lease(*this);
    SqliteConnection& rdb = lease.db();
    SqliteStatement s(rdb, select_jobs("id = ? AND project_id = ?").c_str());
    s.bind(1, id).bind(2, project_id);
    if (!s.step()) return std::nullopt;
    return read_job_row(s);
}

std::optional<JobRecord> SqliteStore::get_job_any(const std::string& id) {
    ReadLease lease(*this);
    SqliteConnection& rdb = lease.db();
    SqliteStatement s(rdb, select_jobs("id = ?").c_str());
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    return read_job_row(s);
}

Page<JobRecord> SqliteStore::list_jobs(const std::string& project_id, const JobListQuery& q) {
    LLMTUNE_ASSERT(q.limit > 0, "list limit checked by the caller");
    ReadLease lease(*this);
    SqliteConnection& rdb = lease.db();
    int64_t cursor = INT64_MAX;
    if (!q.after.empty()) {
        SqliteStatement c(rdb, "SELECT seq FROM jobs WHERE id = ? AND project_id = ?");
        c.bind(1, q.after).bind(2, project_id);
        if (!c.step()) throw_no_such("FineTuningJob", q.after, "after");
        cursor = c.integer(0);
    }
    std::string where = "project_id = ? AND seq < ?";
    // json_extract with a quoted key path: any key text is matched literally.
    for (size_t i = 0; i < q.metadata.size(); ++i)
        where += " AND json_type(metadata_json) = 'object' AND "
                 "json_extract(metadata_json, '$.\"' || replace(?, '\"', '') || '\"') = ?";
    SqliteStatement s(rdb, (select_jobs(where) + " ORDER BY seq DESC LIMIT ?").c_str());
    int i = 1;
    s.bind(1, project_id).bind(2, cursor);
    i = 3;
    for (const auto& [k, v] : q.metadata) {
        s.bind(i, k).bind(i + 1, v);
        i += 2;
    }
    s.bind(i, q.limit + 1);
    Page<JobRecord> page;
    while (s.step()) page.items.push_back(read_job_row(s));
    if (static_cast<int64_t>(page.items.size()) > q.limit) {
        page.items.pop_back();
        page.has_more = true;
    }
    return page;
}

std::vector<JobRecord> SqliteStore::jobs_with_status(const std::vector<std::string>& statuses) {
    ReadLease lease(*this);
    SqliteConnection& rdb = lease.db();
    std::vector<JobRecord> out;
    for (const auto& st : statuses) {
        SqliteStatement s(rdb, (select_jobs("status = ?") + " ORDER BY seq").c_str());
        s.bind(1, st);
        while (s.step()) out.push_back(read_job_row(s));
    }
    return out;
}

void SqliteStore::update_job(const JobRecord& j) {
    std::lock_guard<std::mutex> lock(mutex_);
    SqliteTransaction tx(*db_);
    write_job(j);
    tx.commit();
}

void SqliteStore::update_job_with_event(const JobRecord& j, const JobEventRecord& e) {
    std::lock_guard<std::mutex> lock(mutex_);
    SqliteTransaction tx(*db_);
    write_job_event(e);
    write_job(j);
    tx.commit();
}

void SqliteStore::write_job(const JobRecord& j) {
    SqliteStatement s(*db_,
                      "UPDATE jobs SET status = ?, finished_at = ?, estimated_finish = ?, "
                      "fine_tuned_model = ?, model_deleted = ?, trained_tokens = ?, last_step = ?, "
                      "error_code = ?, error_message = ?, error_param = ?, result_files_json = ?, "
                      "attempts = ?, resume = ?, worker_pid = ?, stop_request = ?, spec_json = ?, "
                      "cost_json = ? WHERE id = ?");
    s.bind(1, j.status).bind(2, j.finished_at).bind(3, j.estimated_finish);
    s.bind(4, j.fine_tuned_model).bind(5, static_cast<int64_t>(j.model_deleted));
    s.bind(6, j.trained_tokens).bind(7, j.last_step).bind(8, j.error_code);
    s.bind(9, j.error_message).bind(10, j.error_param).bind(11, j.result_files_json);
    s.bind(12, j.attempts).bind(13, static_cast<int64_t>(j.resume)).bind(14, j.worker_pid);
    s.bind(15, j.stop_request).bind(16, j.spec_json).bind(17, j.cost_json).bind(18, j.id);
    s.run();
    LLMTUNE_ASSERT(s.changes() == 1, "jobs are never deleted, so an update finds its row");
}

std::optional<JobRecord> SqliteStore::find_job_by_model(const std::string& project_id,
                                                        const std::string& model) {
    ReadLease lease(*this);
    SqliteConnection& rdb = lease.db();
    SqliteStatement s(rdb, select_jobs("project_id = ? AND fine_tuned_model = ? AND "
                                        "model_deleted = 0 AND status = 'succeeded'")
                                .c_str());
    s.bind(1, project_id).bind(2, model);
    if (!s.step()) return std::nullopt;
    return read_job_row(s);
}

std::vector<JobRecord> SqliteStore::list_fine_tuned_models(const std::string& project_id) {
    ReadLease lease(*this);
    SqliteConnection& rdb = lease.db();
    SqliteStatement s(rdb, (select_jobs("project_id = ? AND status = 'succeeded' AND "
                                         "model_deleted = 0 AND fine_tuned_model != ''") +
                             " ORDER BY seq DESC")
                                .c_str());
    s.bind(1, project_id);
    std::vector<JobRecord> out;
    while (s.step()) out.push_back(read_job_row(s));
    return out;
}

bool SqliteStore::set_job_estimate(const std::string& job_id, const std::string& estimate_json) {
    std::lock_guard<std::mutex> lock(mutex_);
    SqliteTransaction tx(*db_);
    SqliteStatement s(*db_, "UPDATE jobs SET estimate_json = ? WHERE id = ?");
    s.bind(1, estimate_json).bind(2, job_id);
    s.run();
    const bool found = s.changes() == 1;
    tx.commit();
    return found;
}

int64_t SqliteStore::add_job_event(const JobEventRecord& e) {
    std::lock_guard<std::mutex> lock(mutex_);
    SqliteTransaction tx(*db_);
    int64_t seq = write_job_event(e);
    tx.commit();
    return seq;
}

int64_t SqliteStore::write_job_event(const JobEventRecord& e) {
    SqliteStatement s(*db_,
                      "INSERT INTO job_events(id, job_id, created_at, level, message, type, "
                      "data_json) VALUES (?, ?, ?, ?, ?, ?, ?)");
    s.bind(1, e.id).bind(2, e.job_id).bind(3, e.created_at).bind(4, e.level).bind(5, e.message);
    s.bind(6, e.type).bind(7, e.data_json);
    s.run();
    SqliteStatement seq(*db_, "SELECT last_insert_rowid()");
    seq.step();
    return seq.integer(0);
}

Page<JobEventRecord> SqliteStore::list_job_events(const std::string& job_id,
                                                  const std::string& after, int64_t limit) {
    LLMTUNE_ASSERT(limit > 0, "list limit checked by the caller");
    ReadLease lease(*this);
    SqliteConnection& rdb = lease.db();
    int64_t cursor = INT64_MAX;
    if (!after.empty()) {
        SqliteStatement c(rdb, "SELECT seq FROM job_events WHERE id = ? AND job_id = ?");
        c.bind(1, after).bind(2, job_id);
        if (!c.step()) throw_no_such("FineTuningJobEvent", after, "after");
        cursor = c.integer(0);
    }
    SqliteStatement s(rdb, (std::string("SELECT ") + kEventColumns +
                             " FROM job_events WHERE job_id = ? AND seq < ? ORDER BY seq DESC "
                             "LIMIT ?")
                                .c_str());
    s.bind(1, job_id).bind(2, cursor).bind(3, limit + 1);
    Page<JobEventRecord> page;
    while (s.step()) page.items.push_back(read_event_row(s));
    if (static_cast<int64_t>(page.items.size()) > limit) {
        page.items.pop_back();
        page.has_more = true;
    }
    return page;
}

std::vector<JobEventRecord> SqliteStore::job_events_since(const std::string& job_id,
                                                          int64_t after_seq) {
    ReadLease lease(*this);
    SqliteConnection& rdb = lease.db();
    SqliteStatement s(rdb, (std::string("SELECT ") + kEventColumns +
                             " FROM job_events WHERE job_id = ? AND seq > ? ORDER BY seq")
                                .c_str());
    s.bind(1, job_id).bind(2, after_seq);
    std::vector<JobEventRecord> out;
    while (s.step()) out.push_back(read_event_row(s));
    return out;
}

void SqliteStore::add_job_checkpoint(const JobCheckpointRecord& c) {
    std::lock_guard<std::mutex> lock(mutex_);
    SqliteTransaction tx(*db_);
    SqliteStatement s(*db_, (std::string("INSERT INTO job_checkpoints(") + kCheckpointColumns +
                             ") VALUES (?, ?, ?, ?, ?, ?, ?)")
                                .c_str());
    s.bind(1, c.id).bind(2, c.job_id).bind(3, c.created_at).bind(4, c.step);
    s.bind(5, c.metrics_json).bind(6, c.fine_tuned_model_checkpoint).bind(7, c.path);
    s.run();
    tx.commit();
}

Page<JobCheckpointRecord> SqliteStore::list_job_checkpoints(const std::string& job_id,
                                                            const std::string& after,
                                                            int64_t limit) {
    LLMTUNE_ASSERT(limit > 0, "list limit checked by the caller");
    ReadLease lease(*this);
    SqliteConnection& rdb = lease.db();
    int64_t cursor = INT64_MAX;
    if (!after.empty()) {
        SqliteStatement c(rdb, "SELECT seq FROM job_checkpoints WHERE id = ? AND job_id = ?");
        c.bind(1, after).bind(2, job_id);
        if (!c.step()) throw_no_such("FineTuningJobCheckpoint", after, "after");
        cursor = c.integer(0);
    }
    SqliteStatement s(rdb, (std::string("SELECT ") + kCheckpointColumns +
                             " FROM job_checkpoints WHERE job_id = ? AND seq < ? ORDER BY seq "
                             "DESC LIMIT ?")
                                .c_str());
    s.bind(1, job_id).bind(2, cursor).bind(3, limit + 1);
    Page<JobCheckpointRecord> page;
    while (s.step()) page.items.push_back(read_checkpoint_row(s));
    if (static_cast<int64_t>(page.items.size()) > limit) {
        page.items.pop_back();
        page.has_more = true;
    }
    return page;
}

namespace {

// The checkpoints of a project's jobs, the fine-tuned model not deleted.
constexpr const char* kProjectCheckpoints =
    "SELECT c.id, c.job_id, c.created_at, c.step, c.metrics_json, "
    "c.fine_tuned_model_checkpoint, c.path FROM job_checkpoints c JOIN jobs j ON j.id = c.job_id "
    "WHERE j.project_id = ? AND j.model_deleted = 0 AND c.fine_tuned_model_checkpoint != ''";

}  // namespace

std::vector<JobCheckpointRecord> SqliteStore::list_project_checkpoints(
    const std::string& project_id) {
    ReadLease lease(*this);
    SqliteConnection& rdb = lease.db();
    SqliteStatement s(rdb, (std::string(kProjectCheckpoints) + " ORDER BY c.seq DESC").c_str());
    s.bind(1, project_id);
    std::vector<JobCheckpointRecord> out;
    while (s.step()) out.push_back(read_checkpoint_row(s));
    return out;
}

std::optional<JobCheckpointRecord> SqliteStore::find_checkpoint_by_model(
    const std::string& project_id, const std::string& model) {
    ReadLease lease(*this);
    SqliteConnection& rdb = lease.db();
    // A step re-done after a resume is recorded again: the newest record wins.
    SqliteStatement s(rdb, (std::string(kProjectCheckpoints) +
                             " AND c.fine_tuned_model_checkpoint = ? ORDER BY c.seq DESC LIMIT 1")
                                .c_str());
    s.bind(1, project_id).bind(2, model);
    if (!s.step()) return std::nullopt;
    return read_checkpoint_row(s);
}

}  // namespace llmtune::service
