// The SageMaker backend without a network: the backend settings of a job request, the request
// bodies, and the status mapping driven through sequences of DescribeTrainingJob answers
// (recorded/*.json, written in the shapes of SageMaker's API reference: InProgress/Starting ->
// Downloading -> Training -> Uploading -> Completed, and a run Failed with a FailureReason).
#include <gtest/gtest.h>

#include "common/error.h"
#include "common/json_file.h"
#include "service/job_spec.h"
#include "service/sagemaker_requests.h"
#include "service/sagemaker_status.h"
#include "service/service_error.h"

using namespace llmtune;
using namespace llmtune::service;

namespace {

ordered_json recorded(const std::string& name) {
    return read_ordered_json_file(std::string(LLMTUNE_SOURCE_DIR) + "/tests/unit/sagemaker/recorded/" + name);
}

ordered_json backend() {
    return {{"type", "sagemaker"},
            {"role_arn", "arn:aws:iam::123456789012:role/llmtune-sagemaker-training"},
            {"image_uri", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/llmtune:cuda"},
            {"instance_type", "ml.g5.2xlarge"},
            {"instance_count", 1},
            {"region", "eu-west-1"},
            {"s3_prefix", "s3://llmtune-bucket/llmtune"},
            {"max_runtime_s", 7200},
            {"spot", true}};
}

struct Replay {
    std::vector<SageMakerUpdate> updates;
    std::vector<SageMakerEvent> events;
};

Replay replay(const ordered_json& answers, bool stop_requested = false) {
    Replay r;
    SageMakerSeen seen;
    for (const auto& a : answers) {
        r.updates.push_back(map_describe_training_job(a, seen, stop_requested));
        for (const auto& e : r.updates.back().events) r.events.push_back(e);
    }
    return r;
}

std::vector<std::string> messages(const std::vector<SageMakerEvent>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) out.push_back(e.message);
    return out;
}

}  // namespace

TEST(SageMakerStatus, CompletedRunGivesEachTransitionOnceAndTheFinalMetrics) {
    Replay r = replay(recorded("describe_completed.json"));
    ASSERT_EQ(r.updates.size(), 7u);
    for (size_t i = 0; i + 1 < r.updates.size(); ++i) {
        EXPECT_EQ(r.updates[i].status, "running") << i;
        EXPECT_FALSE(r.updates[i].terminal) << i;
    }
    const auto& last = r.updates.back();
    EXPECT_EQ(last.status, "succeeded");
    EXPECT_TRUE(last.terminal);
    EXPECT_EQ(last.model_artifacts,
              "s3://llmtune-bucket/llmtune/jobs/ftjob-abc123/output/llmtune-ftjob-abc123/output/model.tar.gz");
    EXPECT_EQ(*last.billable_seconds, 610);
    EXPECT_EQ(*last.training_seconds, 1830);
    EXPECT_EQ(last.metrics, ordered_json({{"train_loss", 0.8125}, {"valid_loss", 0.9375}, {"tokens_per_s", 1912.5}}));

    const std::vector<std::string> want = {
        "SageMaker: Starting the training job (Preparing the instances for training)",
        "SageMaker: Starting the training job (Launching requested ML instances)",
        "SageMaker: Downloading the input data and base model (Downloading input data)",
        "SageMaker: Training (Training image download completed. Training in progress.)",
        "SageMaker metrics: train_loss=2.5, tokens_per_s=1830",
        "SageMaker: Uploading the trained model (Uploading generated training model)",
        "SageMaker: Completed (Training job completed)",
        "SageMaker metrics: train_loss=0.8125, valid_loss=0.9375, tokens_per_s=1912.5",
    };
    EXPECT_EQ(messages(r.events), want);
    // The metrics events carry the values as data; the transitions their SageMaker status.
    EXPECT_EQ(r.events[4].type, "metrics");
    EXPECT_EQ(r.events[4].data, ordered_json({{"train_loss", 2.5}, {"tokens_per_s", 1830.0}}));
    EXPECT_EQ(r.events[7].data["valid_loss"], 0.9375);
    EXPECT_EQ(r.events[2].data["sagemaker_status"], "Downloading");
    for (const auto& e : r.events) EXPECT_EQ(e.level, "info") << e.message;
}

TEST(SageMakerStatus, FailedRunPassesTheReasonVerbatimWithAHint) {
    Replay r = replay(recorded("describe_failed.json"));
    const auto& last = r.updates.back();
    EXPECT_EQ(last.status, "failed");
    EXPECT_TRUE(last.terminal);
    EXPECT_EQ(last.error_message,
              "ClientError: Data download failed:Failed to download data. AccessDenied (403): Access "
              "Denied, bucket: llmtune-bucket, key: llmtune/models/qwen3-0.6b/model.safetensors");
    EXPECT_EQ(last.error_code, "sagemaker_access_denied");
    EXPECT_NE(last.error_hint.find("s3:GetObject"), std::string::npos) << last.error_hint;
    EXPECT_EQ(r.events.back().level, "error");
    EXPECT_EQ(r.events.back().message, "SageMaker: Failed (Training job failed)");
    EXPECT_EQ(*last.billable_seconds, 95);
}

TEST(SageMakerStatus, StoppedAndLimits) {
    ordered_json stopped = {{"TrainingJobStatus", "Stopped"}, {"SecondaryStatus", "Stopped"}};
    SageMakerSeen seen;
    EXPECT_EQ(map_describe_training_job(stopped, seen, true).status, "cancelled");
    ordered_json limit = {{"TrainingJobStatus", "Stopped"}, {"SecondaryStatus", "MaxRuntimeExceeded"}};
    SageMakerSeen seen2;
    auto u = map_describe_training_job(limit, seen2, false);
    EXPECT_EQ(u.status, "failed");
    EXPECT_EQ(u.error_code, "max_runtime_exceeded");
    ordered_json stopping = {{"TrainingJobStatus", "Stopping"}, {"SecondaryStatus", "Stopping"}};
    SageMakerSeen seen3;
    u = map_describe_training_job(stopping, seen3, true);
    EXPECT_EQ(u.status, "running");
    EXPECT_EQ(messages(u.events), std::vector<std::string>{"SageMaker: Stopping"});
}

TEST(SageMakerStatus, CommonFailureCauses) {
    EXPECT_EQ(classify_failure_reason("CannotPullContainerError: Error response from daemon: manifest "
                                      "for 1234.dkr.ecr.us-east-1.amazonaws.com/llmtune:cpu not found")
                  .first,
              "sagemaker_image_not_found");
    EXPECT_EQ(classify_failure_reason("ResourceLimitExceeded: The account-level service limit "
                                      "'ml.p4d.24xlarge for spot training job usage' is 0 Instances")
                  .first,
              "sagemaker_quota");
    EXPECT_EQ(classify_failure_reason("AlgorithmError: invalid_input: hyperparameters.json: 1 bad "
                                      "hyperparameter")
                  .first,
              "sagemaker_failed");
    EXPECT_EQ(classify_failure_reason("AlgorithmError: x").second, "");
}

TEST(SageMakerStatus, CostIsBillableTimeTimesThePriceOrNull) {
    auto c = sagemaker_cost(610, 2, "ml.g5.2xlarge", 1.5, "https://example.test/price");
    EXPECT_DOUBLE_EQ(c["usd"].get<double>(), 610.0 * 2 * 1.5 / 3600.0);
    c = sagemaker_cost(610, 1, "ml.g5.2xlarge", std::nullopt, "");
    EXPECT_TRUE(c["usd"].is_null());
    EXPECT_TRUE(c["price_per_hour_usd"].is_null());
    EXPECT_EQ(c["billable_seconds"], 610);
}

TEST(SageMakerBackendSettings, ParsedCheckedAndKeptInTheJobSpec) {
    auto s = parse_sagemaker_settings(backend());
    EXPECT_EQ(s.max_wait_s, 14400);  // spot default: twice the runtime
    EXPECT_EQ(s.instance_count, 1);
    auto bad = [](const std::string& key, const ordered_json& value) {
        ordered_json b = backend();
        b[key] = value;
        try {
            parse_sagemaker_settings(b);
        } catch (const ServiceError& e) {
            return e.param();
        }
        return std::string("(accepted)");
    };
    EXPECT_EQ(bad("role_arn", "arn:aws:iam::12:role/x"), "llmtune.backend.role_arn");
    EXPECT_EQ(bad("instance_type", "g5.xlarge"), "llmtune.backend.instance_type");
    EXPECT_EQ(bad("region", "Europe"), "llmtune.backend.region");
    EXPECT_EQ(bad("s3_prefix", "https://bucket/x"), "llmtune.backend.s3_prefix");
    EXPECT_EQ(bad("max_wait_s", 60), "llmtune.backend.max_wait_s");
    EXPECT_EQ(bad("spot", "yes"), "llmtune.backend.spot");
    EXPECT_EQ(bad("instance_cnt", 2), "llmtune.backend.instance_cnt");
    ordered_json no_role = backend();
    no_role.erase("role_arn");
    EXPECT_THROW(parse_sagemaker_settings(no_role), ServiceError);

    // Through a create-job request body and the stored spec.
    ordered_json body = {{"model", "m"}, {"training_file", "file-x"}, {"llmtune", {{"backend", backend()}}}};
    JobSpec spec = parse_job_spec(body);
    ASSERT_FALSE(spec.backend.is_null());
    EXPECT_EQ(spec.backend["instance_type"], "ml.g5.2xlarge");
    JobSpec back = JobSpec::from_json(spec.to_json());
    EXPECT_EQ(back.backend, spec.backend);
    body["llmtune"]["backend"] = {{"type", "local"}};
    EXPECT_TRUE(parse_job_spec(body).backend.is_null());
    body["llmtune"]["backend"] = {{"type", "k8s"}};
    EXPECT_THROW(parse_job_spec(body), ServiceError);
}

TEST(SageMakerRequests, BodiesCarryTheJob) {
    TrainingJobInput in;
    in.job_name = sagemaker_job_name("ftjob-AbC_123");
    EXPECT_EQ(in.job_name, "llmtune-ftjob-AbC-123");
    in.settings = parse_sagemaker_settings(backend());
    in.train_s3_uri = "s3://b/p/train/";
    in.model_s3_uri = "s3://b/p/model/";
    in.output_s3_uri = "s3://b/p/output/";
    in.checkpoint_s3_uri = "s3://b/p/checkpoints/";
    ordered_json cfg = {{"model", {{"path", "/m"}, {"dtype", "bf16"}}},
                        {"training", {{"learning_rate", 0.0002}, {"epochs", 2}}},
                        {"output", {{"dir", "/o"}, {"save_steps", 10}}}};
    in.hyperparameters = hyperparameters_from_train_config(cfg);
    ordered_json b = create_training_job_body(in);
    EXPECT_EQ(b["HyperParameters"], ordered_json({{"model.dtype", "bf16"},
                                                  {"training.epochs", "2"},
                                                  {"training.learning_rate", "0.0002"},
                                                  {"output.save_steps", "10"}}));
    EXPECT_EQ(b["AlgorithmSpecification"]["TrainingInputMode"], "File");
    EXPECT_EQ(b["AlgorithmSpecification"]["MetricDefinitions"].size(), 5u);
    EXPECT_EQ(b["InputDataConfig"].size(), 2u);  // train, model (no validation)
    EXPECT_EQ(b["StoppingCondition"]["MaxWaitTimeInSeconds"], 14400);
    EXPECT_EQ(b["EnableManagedSpotTraining"], true);
    EXPECT_EQ(b["CheckpointConfig"]["LocalPath"], "/opt/ml/checkpoints");
    EXPECT_EQ(describe_training_job_body("x"), ordered_json({{"TrainingJobName", "x"}}));
}
