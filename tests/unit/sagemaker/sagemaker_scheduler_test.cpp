// A SageMaker job through the real scheduler and backend, with S3 played by s3rver (npm) and
// SageMaker by a loopback server in this test that replays recorded DescribeTrainingJob
// sequences (recorded/*.json): the uploads, CreateTrainingJob, the job's status, events,
// metrics and cost, the model fetched into the job's output, a failure's reason and hint, and
// a cancel that sends StopTrainingJob.
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>

#include "cloud/s3_client.h"
#include "common/json_file.h"
#include "service/job_spec.h"
#include "service/scheduler.h"
#include "service/service_error.h"
#include "service/sqlite_store.h"
#include "support/test_support.h"
#include "unit/cloud/s3rver_fixture.h"

namespace fs = std::filesystem;
using namespace llmtune;
using namespace llmtune::service;
using llmtune::test::TempDir;

namespace {

const char* kJobId = "ftjob-abc123";  // the id the recorded answers name
const char* kBucket = "llmtune-bucket";

ordered_json recorded(const std::string& name) {
    return read_ordered_json_file(std::string(LLMTUNE_SOURCE_DIR) + "/tests/unit/sagemaker/recorded/" + name);
}

// SageMaker's JSON API on loopback: DescribeTrainingJob answers "not found" until
// CreateTrainingJob, then the next answer of `sequence` per call (the last one repeats);
// after StopTrainingJob it answers Stopping, then Stopped.
class FakeSageMaker {
  public:
    explicit FakeSageMaker(ordered_json sequence) : sequence_(std::move(sequence)) {
        server_.Post("/", [this](const httplib::Request& req, httplib::Response& res) {
            std::lock_guard<std::mutex> lock(mutex_);
            const std::string target = req.get_header_value("X-Amz-Target");
            calls.push_back(target);
            authorized = authorized && req.get_header_value("Authorization").rfind("AWS4-HMAC-SHA256 ", 0) == 0;
            ordered_json answer;
            if (target == "SageMaker.CreateTrainingJob") {
                create_body = ordered_json::parse(req.body);
                created = true;
                answer = {{"TrainingJobArn", "arn:aws:sagemaker:us-east-1:123456789012:training-job/x"}};
            } else if (target == "SageMaker.DescribeTrainingJob") {
                if (!created) {
                    res.status = 400;
                    res.set_content(R"({"__type":"ValidationException","message":"Requested resource not found."})",
                                    "application/x-amz-json-1.1");
                    return;
                }
                if (stopped > 0) {
                    answer = {{"TrainingJobStatus", stopped++ == 1 ? "Stopping" : "Stopped"},
                              {"SecondaryStatus", stopped == 2 ? "Stopping" : "Stopped"}};
                } else {
                    answer = sequence_[std::min(next_, sequence_.size() - 1)];
                    ++next_;
                }
            } else if (target == "SageMaker.StopTrainingJob") {
                stopped = 1;
                answer = ordered_json::object();
            } else {
                res.status = 400;
                return;
            }
            res.set_content(answer.dump(), "application/x-amz-json-1.1");
        });
        port = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
    }
    ~FakeSageMaker() {
        server_.stop();
        thread_.join();
    }
    // Replaces the answers still to come (the next Describe gets the first).
    void set_sequence(ordered_json sequence) {
        std::lock_guard<std::mutex> lock(mutex_);
        sequence_ = std::move(sequence);
        next_ = 0;
    }
    std::vector<std::string> snapshot_calls() {
        std::lock_guard<std::mutex> lock(mutex_);
        return calls;
    }

    int port = 0;
    std::vector<std::string> calls;
    ordered_json create_body;
    bool created = false, authorized = true;
    int stopped = 0;

  private:
    ordered_json sequence_;
    size_t next_ = 0;
    std::mutex mutex_;
    httplib::Server server_;
    std::thread thread_;
};

struct Env {
    TempDir dir;
    std::unique_ptr<test::S3rverProcess> s3;
    std::unique_ptr<FakeSageMaker> sagemaker;
    std::unique_ptr<SqliteStore> store;
    std::unique_ptr<Scheduler> scheduler;

    explicit Env(const std::string& recording) {
        ::setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
        ::setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
        ::setenv("HOME", dir.path().c_str(), 1);  // no shared credentials files
        ::unsetenv("AWS_PROFILE");
        ::setenv("LLMTUNE_SAGEMAKER_POLL_MS", "20", 1);
        fs::create_directories(dir.file("s3"));
        s3 = std::make_unique<test::S3rverProcess>(dir.file("s3"), kBucket);
        sagemaker = std::make_unique<FakeSageMaker>(recorded(recording));

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
        f.canonical_records = 2;
        store->insert_file(f);
        fs::create_directories(dir.file("blobs/sha256/ab"));
        test::write_file(dir.file("blobs/sha256/ab/ab00"),
                         "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"yo\"}]}\n");
        fs::create_directories(dir.file("models/tiny"));
        test::write_file(dir.file("models/tiny/config.json"), "{\"model_type\":\"qwen3\"}");
        test::write_file(dir.file("models/tiny/tokenizer.json"), "{}");
    }
    ~Env() {
        if (scheduler) scheduler->stop();
    }

    cloud::S3Client s3_client() { return cloud::S3Client(s3->config()); }

    // model.tar.gz as the llmtune image leaves it, where the recorded answer points.
    void put_model_tar() {
        const std::string m = dir.file("sm-model");
        fs::create_directories(m + "/adapter");
        fs::create_directories(m + "/merged");
        test::write_file(m + "/adapter/adapter_config.json", "{\"r\": 2}");
        test::write_file(m + "/adapter/adapter_model.safetensors", "adapter bytes");
        test::write_file(m + "/merged/config.json", "{}");
        test::write_file(m + "/manifest.json", "{\"method\": \"lora\"}");
        test::write_file(m + "/events.jsonl", "{\"type\":\"end\"}\n");
        auto r = test::run_command("tar -czf " + dir.file("model.tar.gz") + " -C " + m +
                                   " adapter merged manifest.json events.jsonl");
        ASSERT_EQ(r.exit_code, 0) << r.err;
        s3_client().put_file(kBucket, std::string("llmtune/jobs/") + kJobId + "/output/llmtune-" + kJobId +
                                          "/output/model.tar.gz",
                             dir.file("model.tar.gz"));
    }

    void start_job() {
        JobSpec spec;
        spec.n_epochs = 1;
        spec.batch_size = 1;
        spec.learning_rate_multiplier = 1.0;
        spec.save_steps = 5;
        spec.backend = {{"type", "sagemaker"},
                        {"role_arn", "arn:aws:iam::123456789012:role/llmtune-sagemaker-training"},
                        {"image_uri", "123456789012.dkr.ecr.us-east-1.amazonaws.com/llmtune:cuda"},
                        {"instance_type", "ml.g5.2xlarge"},
                        {"instance_count", 1},
                        {"region", "us-east-1"},
                        {"s3_prefix", std::string("s3://") + kBucket + "/llmtune"},
                        {"max_runtime_s", 3600},
                        {"spot", false},
                        {"volume_size_gb", 0},
                        {"max_wait_s", 0},
                        {"endpoint", "http://127.0.0.1:" + std::to_string(sagemaker->port)},
                        {"s3_endpoint", s3->endpoint()},
                        {"s3_path_style", true}};
        JobRecord j;
        j.id = kJobId;
        j.project_id = "proj_a";
        j.model = "tiny";
        j.training_file = "file-train";
        j.spec_json = spec.to_json().dump();
        j.status = kJobQueued;
        j.created_at = 1;
        store->insert_job(j);
        SchedulerConfig config;
        config.data_dir = dir.path();
        config.models_dir = dir.file("models");
        config.worker_binary = "/bin/false";  // never started for a SageMaker job
        scheduler = std::make_unique<Scheduler>(*store, config);
        scheduler->start();
    }

    JobRecord wait_status(const std::string& status, double seconds = 30) {
        auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(int(seconds * 1000));
        JobRecord j;
        while (std::chrono::steady_clock::now() < until) {
            j = *store->get_job_any(kJobId);
            if (j.status == status) return j;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        ADD_FAILURE() << kJobId << " is " << j.status << ", expected " << status << " (error "
                      << j.error_code << ": " << j.error_message << ")";
        return j;
    }

    std::vector<JobEventRecord> events() { return store->job_events_since(kJobId, 0); }
    std::string event_text() {
        std::string s;
        for (const auto& e : events()) s += "[" + e.level + "/" + e.type + "] " + e.message + "\n";
        return s;
    }
};

bool has_event(const std::string& text, const std::string& line) {
    return text.find(line) != std::string::npos;
}

}  // namespace

TEST(SageMakerScheduler, CompletedJobUploadsCreatesFollowsAndFetchesTheModel) {
    Env env("describe_completed.json");
    env.put_model_tar();
    env.start_job();
    JobRecord job = env.wait_status(kJobSucceeded);
    EXPECT_EQ(job.fine_tuned_model, fine_tuned_model_id(job));
    // The outcome's event follows the status change.
    for (int i = 0; i < 250 && !has_event(env.event_text(), "The job has successfully completed."); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const std::string ev = env.event_text();
    for (const char* line :
         {"Fine-tuning job started on SageMaker (ml.g5.2xlarge).",
          "Uploaded the training data to s3://llmtune-bucket/llmtune/jobs/ftjob-abc123/data/.",
          "Uploaded the base model to s3://llmtune-bucket/llmtune/models/tiny/.",
          "Created the SageMaker training job llmtune-ftjob-abc123 (ml.g5.2xlarge).",
          "[info/message] SageMaker: Starting the training job (Preparing the instances for training)",
          "[info/message] SageMaker: Downloading the input data and base model (Downloading input data)",
          "[info/message] SageMaker: Training (Training image download completed. Training in progress.)",
          "[info/metrics] SageMaker metrics: train_loss=2.5, tokens_per_s=1830",
          "[info/message] SageMaker: Uploading the trained model (Uploading generated training model)",
          "[info/metrics] SageMaker metrics: train_loss=0.8125, valid_loss=0.9375, tokens_per_s=1912.5",
          "Fetched s3://llmtune-bucket/llmtune/jobs/ftjob-abc123/output/llmtune-ftjob-abc123/output/model.tar.gz into the model registry.",
          // 610 s at the catalog's 1.515 USD an hour (data/hardware_catalog.yaml).
          "SageMaker billed 610 s on 1 x ml.g5.2xlarge: $0.2567.",
          "The job has successfully completed."})
        EXPECT_TRUE(has_event(ev, line)) << line << "\n--- events:\n" << ev;
    // Each transition once, although Training was answered twice.
    EXPECT_EQ(ev.find("SageMaker: Training ("), ev.rfind("SageMaker: Training ("));
    // The metrics event carries the values.
    bool found = false;
    for (const auto& e : env.events())
        if (e.type == "metrics" && e.message.find("valid_loss") != std::string::npos) {
            auto d = ordered_json::parse(e.data_json);
            EXPECT_EQ(d["valid_loss"], 0.9375);
            EXPECT_EQ(d["train_loss"], 0.8125);
            found = true;
        }
    EXPECT_TRUE(found);

    // The model is in the job's output dir, where local jobs keep theirs.
    const std::string out = env.dir.file(std::string("jobs/") + kJobId + "/output");
    EXPECT_EQ(test::read_file(out + "/adapter_model.safetensors"), "adapter bytes");
    EXPECT_TRUE(fs::exists(out + "/adapter_config.json"));
    EXPECT_TRUE(fs::exists(out + "/manifest.json"));

    // What went to S3 and to CreateTrainingJob.
    auto s3 = env.s3_client();
    EXPECT_EQ(s3.get_string(kBucket, "llmtune/jobs/ftjob-abc123/data/train/train.jsonl"),
              test::read_file(env.dir.file("blobs/sha256/ab/ab00")));
    EXPECT_EQ(s3.get_string(kBucket, "llmtune/models/tiny/config.json"), "{\"model_type\":\"qwen3\"}");
    EXPECT_TRUE(s3.head(kBucket, "llmtune/models/tiny/.llmtune-upload.json").has_value());
    const auto& body = env.sagemaker->create_body;
    EXPECT_EQ(body["TrainingJobName"], "llmtune-ftjob-abc123");
    EXPECT_EQ(body["RoleArn"], "arn:aws:iam::123456789012:role/llmtune-sagemaker-training");
    EXPECT_EQ(body["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"],
              "s3://llmtune-bucket/llmtune/jobs/ftjob-abc123/data/train/");
    EXPECT_EQ(body["InputDataConfig"][1]["ChannelName"], "model");
    EXPECT_EQ(body["InputDataConfig"][1]["DataSource"]["S3DataSource"]["S3Uri"],
              "s3://llmtune-bucket/llmtune/models/tiny/");
    EXPECT_EQ(body["OutputDataConfig"]["S3OutputPath"], "s3://llmtune-bucket/llmtune/jobs/ftjob-abc123/output/");
    EXPECT_EQ(body["CheckpointConfig"]["S3Uri"], "s3://llmtune-bucket/llmtune/jobs/ftjob-abc123/checkpoints/");
    EXPECT_EQ(body["HyperParameters"]["training.epochs"], "1");
    EXPECT_EQ(body["HyperParameters"]["output.save_steps"], "5");
    EXPECT_EQ(body["HyperParameters"]["model.device"], "cuda");  // a GPU instance type
    EXPECT_EQ(body["HyperParameters"].count("model.path"), 0u);
    EXPECT_EQ(body["ResourceConfig"]["VolumeSizeInGB"], 30);
    EXPECT_EQ(body["StoppingCondition"]["MaxRuntimeInSeconds"], 3600);
    EXPECT_TRUE(env.sagemaker->authorized);
    auto calls = env.sagemaker->snapshot_calls();
    ASSERT_GE(calls.size(), 3u);
    EXPECT_EQ(calls[0], "SageMaker.DescribeTrainingJob");  // looked for an existing job first
    EXPECT_EQ(calls[1], "SageMaker.CreateTrainingJob");
}

TEST(SageMakerScheduler, FailedJobKeepsTheReasonVerbatimAndAddsAHint) {
    Env env("describe_failed.json");
    env.start_job();
    JobRecord job = env.wait_status(kJobFailed);
    for (int i = 0; i < 250 && !has_event(env.event_text(), "The job failed"); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(job.error_code, "sagemaker_access_denied");
    EXPECT_EQ(job.error_message,
              "ClientError: Data download failed:Failed to download data. AccessDenied (403): Access "
              "Denied, bucket: llmtune-bucket, key: llmtune/models/qwen3-0.6b/model.safetensors");
    const std::string ev = env.event_text();
    EXPECT_TRUE(has_event(ev, "[warn/message] Hint: the execution role (llmtune.backend.role_arn) cannot reach")) << ev;
    EXPECT_TRUE(has_event(ev, "[error/message] SageMaker: Failed (Training job failed)")) << ev;
    EXPECT_TRUE(has_event(ev, "SageMaker billed 95 s")) << ev;
    EXPECT_FALSE(fs::exists(env.dir.file(std::string("jobs/") + kJobId + "/output/adapter_model.safetensors")));
}

TEST(SageMakerScheduler, CancelSendsStopTrainingJob) {
    // Stays in Training until stopped.
    ordered_json training = recorded("describe_completed.json")[3];
    ordered_json seq = ordered_json::array({training});
    Env env("describe_completed.json");
    env.sagemaker.reset();
    env.sagemaker = std::make_unique<FakeSageMaker>(seq);
    env.start_job();
    env.wait_status(kJobRunning);
    // Wait until the training job exists, then cancel.
    for (int i = 0; i < 500 && !has_event(env.event_text(), "SageMaker: Training"); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    env.scheduler->request_stop("proj_a", kJobId, /*pause=*/false);
    env.wait_status(kJobCancelled);
    for (int i = 0; i < 250 && !has_event(env.event_text(), "The job was cancelled"); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto calls = env.sagemaker->snapshot_calls();
    EXPECT_NE(std::find(calls.begin(), calls.end(), "SageMaker.StopTrainingJob"), calls.end());
    const std::string ev = env.event_text();
    EXPECT_TRUE(has_event(ev, "Asked SageMaker to stop the training job llmtune-ftjob-abc123.")) << ev;
    EXPECT_TRUE(has_event(ev, "The job was cancelled (SageMaker training job stopped).")) << ev;
}

TEST(SageMakerScheduler, PauseIsRefused) {
    ordered_json seq = ordered_json::array({recorded("describe_completed.json")[3]});
    Env env("describe_completed.json");
    env.sagemaker.reset();
    env.sagemaker = std::make_unique<FakeSageMaker>(seq);
    env.start_job();
    env.wait_status(kJobRunning);
    try {
        env.scheduler->request_stop("proj_a", kJobId, /*pause=*/true);
        ADD_FAILURE() << "pause accepted";
    } catch (const ServiceError& e) {
        EXPECT_EQ(e.code(), "invalid_state");
        EXPECT_NE(e.message().find("cannot be paused"), std::string::npos) << e.message();
    }
    env.scheduler->request_stop("proj_a", kJobId, /*pause=*/false);
    env.wait_status(kJobCancelled);
}

TEST(SageMakerScheduler, AServerRestartReattachesInsteadOfCreatingAgain) {
    Env env("describe_completed.json");
    env.put_model_tar();
    const ordered_json all = recorded("describe_completed.json");
    env.sagemaker->set_sequence(ordered_json::array({all[3]}));  // stays in Training
    env.start_job();
    for (int i = 0; i < 500 && !has_event(env.event_text(), "SageMaker: Training"); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    // The server stops: the SageMaker job keeps running, the llmtune job waits in the queue.
    env.scheduler->stop();
    JobRecord job = *env.store->get_job_any(kJobId);
    EXPECT_EQ(job.status, kJobQueued);
    EXPECT_TRUE(job.resume);
    EXPECT_TRUE(has_event(env.event_text(), "the SageMaker training job keeps running")) << env.event_text();
    auto calls = env.sagemaker->snapshot_calls();
    EXPECT_EQ(std::count(calls.begin(), calls.end(), "SageMaker.StopTrainingJob"), 0);

    // The next server finds the training job by its name and follows it to the end.
    env.sagemaker->set_sequence(ordered_json::array({all[5], all[6]}));
    SchedulerConfig config;
    config.data_dir = env.dir.path();
    config.models_dir = env.dir.file("models");
    config.worker_binary = "/bin/false";
    env.scheduler = std::make_unique<Scheduler>(*env.store, config);
    env.scheduler->start();
    env.wait_status(kJobSucceeded);
    calls = env.sagemaker->snapshot_calls();
    EXPECT_EQ(std::count(calls.begin(), calls.end(), "SageMaker.CreateTrainingJob"), 1);
    for (int i = 0; i < 250 && !has_event(env.event_text(), "The job has successfully completed."); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const std::string ev = env.event_text();
    EXPECT_TRUE(has_event(ev, "Re-attached to the SageMaker training job llmtune-ftjob-abc123.")) << ev;
    EXPECT_TRUE(has_event(ev, "The job has successfully completed.")) << ev;
    EXPECT_EQ(test::read_file(env.dir.file(std::string("jobs/") + kJobId + "/output/adapter_model.safetensors")),
              "adapter bytes");
}
