// The scheduler with a stand-in worker: a shell script that behaves like `llmtune worker`
// (trainer events on stdout, worker_result.json, SIGTERM handling) in the way the data dir's
// `mode` file says. Tests promotion, event ingestion, success, crash retries from the
// checkpoint, non-retryable failures, cancel, pause/resume, the concurrency limit and recovery
// of jobs left running. No torch.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "common/error.h"
#include "service/job_spec.h"
#include "service/scheduler.h"
#include "service/sqlite_store.h"
#include "support/test_support.h"

using namespace llmtune;
using namespace llmtune::service;
using llmtune::test::TempDir;

namespace {

const char* kFakeWorker = R"(#!/bin/bash
dir="$3"
mode=$(cat "$dir/../../mode")
if [ "$4" = "--resume" ]; then echo resume >> "$dir/starts"; else echo fresh >> "$dir/starts"; fi
case "$mode" in
ok)
  echo '{"type":"start","step":0,"total_steps":2,"train_examples":3}'
  echo 'not json: ignored'
  echo '{"type":"train","step":1,"total_steps":2,"train_loss":2.0,"train_mean_token_accuracy":0.5,"tokens":10,"eta_s":1}'
  echo '{"type":"checkpoint","step":1,"path":"ck1"}'
  echo '{"type":"train","step":2,"total_steps":2,"train_loss":1.0,"tokens":10}'
  echo '{"type":"end","step":2,"stop_reason":"completed","metrics":{}}'
  echo '{"outcome":"succeeded","code":"","message":""}' > "$dir/worker_result.json"
  exit 0 ;;
resume)
  echo '{"type":"resume","step":2,"total_steps":3}'
  echo '{"type":"train","step":3,"total_steps":3,"train_loss":0.5,"tokens":10}'
  echo '{"outcome":"succeeded","code":"","message":""}' > "$dir/worker_result.json"
  exit 0 ;;
crash) kill -9 $$ ;;
nan)
  echo '{"outcome":"failed","code":"nan_loss","message":"training diverged at step 3"}' > "$dir/worker_result.json"
  exit 1 ;;
wait)
  trap 'echo "{\"outcome\":\"cancelled\",\"code\":\"cancelled\",\"message\":\"stopped\"}" > "$dir/worker_result.json"; exit 3' TERM
  echo '{"type":"start","step":0,"total_steps":100}'
  while true; do sleep 0.05; done ;;
esac
)";

struct Env {
    TempDir dir;
    std::unique_ptr<SqliteStore> store;
    std::unique_ptr<Scheduler> scheduler;
    SchedulerConfig config;

    explicit Env(const std::string& mode, int max_concurrent = 1) {
        store = std::make_unique<SqliteStore>(dir.file("llmtune.db"));
        store->create_project({"proj_a", "a", 1});
        FileRecord f;
        f.id = "file-train";
        f.project_id = "proj_a";
        f.filename = "t.jsonl";
        f.purpose = "fine-tune";
        f.blob_sha256 = "aa00";
        f.status = kFileProcessed;
        f.canonical_sha256 = "ab00";
        f.canonical_records = 3;
        store->insert_file(f);
        std::filesystem::create_directories(dir.file("models/tiny"));
        test::write_file(dir.file("models/tiny/config.json"), "{}");
        test::write_file(dir.file("fake-worker"), kFakeWorker);
        ::chmod(dir.file("fake-worker").c_str(), 0755);
        set_mode(mode);
        config.data_dir = dir.path();
        config.models_dir = dir.file("models");
        config.worker_binary = dir.file("fake-worker");
        config.max_concurrent = max_concurrent;
        config.max_retries = 2;
    }
    ~Env() {
        if (scheduler) scheduler->stop();
    }
    void set_mode(const std::string& mode) { test::write_file(dir.file("mode"), mode); }
    void start() {
        scheduler = std::make_unique<Scheduler>(*store, config);
        scheduler->start();
    }
    std::string add_job(const std::string& id, const std::string& status = kJobValidatingFiles) {
        JobRecord j;
        j.id = id;
        j.project_id = "proj_a";
        j.model = "tiny";
        j.training_file = "file-train";
        j.spec_json = JobSpec().to_json().dump();
        j.status = status;
        j.created_at = 1;
        store->insert_job(j);
        if (scheduler) scheduler->wake();
        return id;
    }
    JobRecord wait_status(const std::string& id, const std::string& status, double seconds = 15) {
        auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(int(seconds * 1000));
        JobRecord j;
        while (std::chrono::steady_clock::now() < until) {
            j = *store->get_job_any(id);
            if (j.status == status) return j;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        ADD_FAILURE() << id << " is " << j.status << ", expected " << status << " (error "
                      << j.error_code << ": " << j.error_message << ")";
        return j;
    }
    std::string starts(const std::string& id) {
        std::string s = test::read_file(dir.file("jobs/" + id + "/starts"));
        return s;
    }
    // Waits until the worker script has recorded its start (the status changes at fork, the
    // script writes a moment later), so a signal does not race its first lines.
    void wait_starts(const std::string& id, const std::string& expected) {
        for (int i = 0; i < 500 && starts(id) != expected; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        EXPECT_EQ(starts(id), expected);
    }
    std::vector<std::string> messages(const std::string& id) {
        std::vector<std::string> out;
        for (const auto& e : store->job_events_since(id, 0)) out.push_back(e.message);
        return out;
    }
};

bool contains(const std::vector<std::string>& v, const std::string& needle) {
    for (const auto& s : v)
        if (s.find(needle) != std::string::npos) return true;
    return false;
}

}  // namespace

TEST(Scheduler, RunsAJobAndRecordsEventsCheckpointsAndTokens) {
    Env env("ok");
    env.start();
    env.add_job("ftjob-ok");
    auto j = env.wait_status("ftjob-ok", kJobSucceeded);
    EXPECT_EQ(j.fine_tuned_model, "ft:tiny::ok");
    EXPECT_EQ(j.trained_tokens, 20);
    EXPECT_EQ(j.last_step, 2);
    EXPECT_TRUE(j.finished_at);
    auto spec = JobSpec::from_json(ordered_json::parse(j.spec_json));
    EXPECT_EQ(*spec.n_epochs, 25);  // auto with 3 records
    EXPECT_EQ(spec.training_examples, 3);
    auto ck = env.store->list_job_checkpoints("ftjob-ok", "", 10);
    ASSERT_EQ(ck.items.size(), 1u);
    EXPECT_EQ(ck.items[0].step, 1);
    EXPECT_EQ(ordered_json::parse(ck.items[0].metrics_json)["train_loss"], 2.0);
    EXPECT_EQ(ck.items[0].fine_tuned_model_checkpoint, "ft:tiny::ok:ckpt-step-1");
    auto m = env.messages("ftjob-ok");
    EXPECT_TRUE(contains(m, "Step 1/2: training loss=2.0000"));
    EXPECT_TRUE(contains(m, "successfully completed"));
    auto cfg = read_ordered_json_file(env.dir.file("jobs/ftjob-ok/train_config.json"));
    EXPECT_EQ(cfg["training"]["epochs"], 25);
    EXPECT_EQ(cfg["data"]["train"][0], env.dir.file("jobs/ftjob-ok/data/train.jsonl"));
}

TEST(Scheduler, RetriesACrashedWorkerFromItsCheckpointThenFailsNamingTheCause) {
    Env env("crash");
    env.start();
    env.add_job("ftjob-crash");
    auto j = env.wait_status("ftjob-crash", kJobFailed);
    EXPECT_EQ(j.error_code, "killed");
    EXPECT_NE(j.error_message.find("Killed"), std::string::npos) << j.error_message;
    EXPECT_EQ(j.attempts, 2);
    EXPECT_EQ(env.starts("ftjob-crash"), "fresh\nresume\nresume\n");
}

TEST(Scheduler, DivergenceFailsAtOnce) {
    Env env("nan");
    env.start();
    env.add_job("ftjob-nan");
    auto j = env.wait_status("ftjob-nan", kJobFailed);
    EXPECT_EQ(j.error_code, "nan_loss");
    EXPECT_EQ(env.starts("ftjob-nan"), "fresh\n");
}

TEST(Scheduler, CancelPauseResumeAndTheConcurrencyLimit) {
    Env env("wait", 1);
    env.start();
    env.add_job("ftjob-a");
    env.wait_status("ftjob-a", kJobRunning);
    env.wait_starts("ftjob-a", "fresh\n");
    env.add_job("ftjob-b");
    env.wait_status("ftjob-b", kJobQueued);
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    EXPECT_EQ(env.store->get_job_any("ftjob-b")->status, kJobQueued) << "one worker at a time";

    env.scheduler->request_stop("proj_a", "ftjob-a", /*pause=*/true);
    env.wait_status("ftjob-a", kJobPaused);
    env.wait_status("ftjob-b", kJobRunning);  // the slot went to the next job
    env.wait_starts("ftjob-b", "fresh\n");
    EXPECT_THROW(env.scheduler->resume("proj_a", "ftjob-b"), llmtune::Error);  // not paused
    env.scheduler->request_stop("proj_a", "ftjob-b", false);
    auto b = env.wait_status("ftjob-b", kJobCancelled);
    EXPECT_TRUE(b.fine_tuned_model.empty());
    EXPECT_THROW(env.scheduler->request_stop("proj_a", "ftjob-b", false), llmtune::Error);  // finished

    env.scheduler->resume("proj_a", "ftjob-a");
    env.wait_status("ftjob-a", kJobRunning);
    env.wait_starts("ftjob-a", "fresh\nresume\n");
    env.scheduler->request_stop("proj_a", "ftjob-a", false);
    env.wait_status("ftjob-a", kJobCancelled);
    EXPECT_EQ(env.starts("ftjob-a"), "fresh\nresume\n");
    EXPECT_THROW(env.scheduler->request_stop("proj_b", "ftjob-a", false), llmtune::Error);  // other project
}

TEST(Scheduler, JobsLeftRunningResumeAtStart) {
    Env env("ok");
    env.add_job("ftjob-left", kJobRunning);  // as a server that died would leave it
    JobRecord j = *env.store->get_job_any("ftjob-left");
    j.spec_json = [] {
        JobSpec s;
        resolve_auto(s, 3);
        return s.to_json().dump();
    }();
    env.store->update_job(j);
    env.start();
    env.wait_status("ftjob-left", kJobSucceeded);
    EXPECT_EQ(env.starts("ftjob-left"), "resume\n");
    EXPECT_TRUE(contains(env.messages("ftjob-left"), "server restarted"));
}

TEST(Scheduler, StepsDoneWhileNoServerListenedAreRecoveredFromTheTrainersLog) {
    Env env("resume");
    env.add_job("ftjob-gap", kJobRunning);
    JobRecord j = *env.store->get_job_any("ftjob-gap");
    JobSpec s;
    resolve_auto(s, 3);
    j.spec_json = s.to_json().dump();
    j.last_step = 1;  // the server saw step 1; the worker did step 2 (and its checkpoint) after
    j.trained_tokens = 10;
    env.store->update_job(j);
    std::filesystem::create_directories(env.dir.file("jobs/ftjob-gap/output"));
    test::write_file(env.dir.file("jobs/ftjob-gap/output/events.jsonl"),
                     "{\"type\":\"train\",\"step\":1,\"total_steps\":3,\"tokens\":10}\n"
                     "{\"type\":\"train\",\"step\":2,\"total_steps\":3,\"tokens\":10,"
                     "\"train_loss\":0.75}\n");
    env.start();
    auto done = env.wait_status("ftjob-gap", kJobSucceeded);
    EXPECT_EQ(done.trained_tokens, 30);
    EXPECT_EQ(done.last_step, 3);
    EXPECT_TRUE(contains(env.messages("ftjob-gap"), "Step 2/3: training loss=0.7500 (recovered"));
}
