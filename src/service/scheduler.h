// Scheduler: runs fine-tuning jobs, each in a child process `llmtune worker --job-dir DIR`
// (the same binary), so a crash in training never takes the server down.
//
//   <data-dir>/jobs/<job-id>/spec.json          the job as the service resolved it
//   <data-dir>/jobs/<job-id>/train_config.json  the trainer's config (docs/config.md)
//   <data-dir>/jobs/<job-id>/data/              the canonical training/validation files (links)
//   <data-dir>/jobs/<job-id>/output/            the trainer's output dir (events.jsonl,
//                                               checkpoints/step-N/, adapter, manifest.json)
//   <data-dir>/jobs/<job-id>/worker.log         the worker's stderr
//   <data-dir>/jobs/<job-id>/worker_result.json the worker's own verdict, written as it exits
//
// Ordering: the jobs table is the queue. One scheduler thread promotes `validating_files` jobs
// to `queued` once their files are processed (resolving "auto" hyperparameters), and starts
// `queued` jobs oldest first while fewer than `max_concurrent` workers run (default one: one
// job per device). Each worker gets a monitor thread that reads the trainer's events from the
// worker's stdout (one JSON object a line, as they happen) into job events, checkpoints and
// progress, then reaps the worker and records the outcome. All status changes happen under one
// mutex, so a cancel racing a worker's exit has one winner.
//
// Cancellation: cancel or pause of a job that is not running changes its status at once. A
// running job's worker gets SIGTERM; the trainer finishes its step, writes a checkpoint and
// exits; the monitor then records `cancelled` or `paused`. Resume puts a paused job back in the
// queue with `resume`, and its worker continues with `--resume` from the last checkpoint.
//
// Crashes: a worker that dies (signal, out of memory, I/O error) is restarted from its last
// checkpoint up to `max_retries` times; then the job fails with an error code naming the
// cause (oom, killed, io_error, internal_error). Bad data (invalid_file) and divergence
// (nan_loss) fail at once: a retry would fail the same way. Workers carry PR_SET_PDEATHSIG
// (SIGTERM), so if the server dies they checkpoint and exit. At start, jobs still `running`
// (the server died or stopped) are re-queued to resume from their last checkpoint; a worker of
// the previous server still alive is killed first. Steps a worker finished while no server read
// its stdout are recovered from the trainer's events.jsonl when the next worker resumes. stop() sends SIGTERM to every worker, waits
// for them, and leaves their jobs queued to resume at the next start.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/json_file.h"
#include "service/metadata_store.h"

namespace llmtune::service {

struct SageMakerRunInput;
struct SageMakerOutcome;

struct SchedulerConfig {
    std::string data_dir;
    std::string models_dir;
    std::string worker_binary;  // the llmtune binary (/proc/self/exe)
    int max_concurrent = 1;     // workers at once
    int max_retries = 2;        // restarts after a worker crash before the job fails
    int worker_threads = 0;     // torch threads per worker (0 = one per core)
    // The local file of a blob (BlobStore::path: a cached copy for a remote store); unset, the
    // local store's layout under data_dir.
    std::function<std::string(const std::string& sha256)> blob_path;
    // Hooks the service sets (job estimates, running cost, result files); each may be empty.
    // They run under the scheduler's mutex, so they must not block: on_queued hands its work
    // to a queue. An exception from one is logged as a warning event, never fails the job.
    std::function<void(const JobRecord&)> on_queued;  // after a job was queued (auto resolved)
    std::function<void(JobRecord&, const ordered_json&)> on_train_step;  // before its update_job
    std::function<void(JobRecord&)> on_succeeded;  // before update_job (may set result_files_json)
};

class Scheduler {
  public:
    Scheduler(MetadataStore& store, SchedulerConfig config);
    ~Scheduler();

    // Recovers jobs left running by a previous server, then starts the scheduling thread.
    void start();
    // Stops every worker (SIGTERM, then waits) and the thread; their jobs stay queued.
    void stop();
    // Something changed (a job was created or resumed): look at the queue now.
    void wake();

    // Cancel (pause = false) or pause a job of the project. A finished job is a conflict
    // (400 "invalid_state"); returns the job as it is after the request.
    JobRecord request_stop(const std::string& project_id, const std::string& job_id, bool pause);
    // Puts a paused job back in the queue; conflict unless paused.
    JobRecord resume(const std::string& project_id, const std::string& job_id);

    // Appends a message event to a job (also used by the job service).
    void add_event(const std::string& job_id, const std::string& level, const std::string& message,
                   const std::string& type = "message", const ordered_json& data = ordered_json::object());

    std::string job_dir(const std::string& job_id) const;

  private:
    // Writes the job and a message event about it in one transaction (a settled status and
    // the event that announces it are seen together: the event stream ends on the status).
    void update_with_event(const JobRecord& job, const std::string& level,
                           const std::string& message);
    struct Worker;

    void loop();
    void recover();
    void promote_validating();
    void start_queued();
    void launch(JobRecord job);
    void monitor(Worker* w);
    void ingest(Worker& w, const ordered_json& event);
    void backfill(Worker& w, int64_t resume_step);
    void finish(Worker& w, int wait_status);
    // Jobs with llmtune.backend.type sagemaker (scheduler_sagemaker.cpp): a monitor thread
    // runs the SageMaker job instead of a worker process.
    void launch_sagemaker(JobRecord job, const ordered_json& backend, const std::string& model_path,
                          const std::string& train, const std::string& valid,
                          const ordered_json& train_config);
    void finish_sagemaker(Worker& w, const SageMakerOutcome& outcome);
    void run_hook(const char* what, const std::string& job_id, const std::function<void()>& hook);
    void fail(JobRecord& job, const std::string& code, const std::string& message,
              const std::string& param = "");

    MetadataStore& store_;
    SchedulerConfig config_;
    std::mutex mutex_;  // every job status change
    std::condition_variable cv_;
    bool stopping_ = false;
    bool woken_ = false;
    std::thread thread_;
    std::map<std::string, std::unique_ptr<Worker>> workers_;  // by job id
};

// The fine-tuned model's id: "ft:<base>:<suffix>:<job id without 'ftjob-'>".
std::string fine_tuned_model_id(const JobRecord& job);

}  // namespace llmtune::service
