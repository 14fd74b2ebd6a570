// The SageMaker backend: runs one llmtune fine-tuning job as a SageMaker training job.
//
//   1. uploads the job's canonical training (and validation) data to
//      <s3_prefix>/jobs/<job id>/data/{train,validation}/, and the base model to
//      <s3_prefix>/models/<model id>/ unless llmtune.backend.model_s3_uri names it already or
//      an earlier upload's listing (.llmtune-upload.json: every file's name, size and SHA-256)
//      matches the local files;
//   2. CreateTrainingJob (sagemaker_requests.h) with the trainer config as string
//      hyperparameters, the llmtune image, checkpoints under <s3_prefix>/jobs/<id>/checkpoints/;
//   3. polls DescribeTrainingJob, turning each answer into events and metrics
//      (sagemaker_status.h);
//   4. on Completed downloads model.tar.gz and unpacks the adapter (LoRA) or the model (full)
//      into the job's output dir, where local jobs keep theirs (the fine-tuned model is then
//      served and exported like any other); the cost is BillableTimeInSeconds x InstanceCount
//      x the catalog's price, null without one.
//
// Ordering, cancellation and crash behaviour:
//   - run() works on the calling thread (the scheduler's monitor thread for the job) and
//     reports through the callbacks, which the caller serializes with its own lock.
//   - Cancel: once `stop` is set, StopTrainingJob is sent (once) and polling continues until
//     SageMaker reports Stopped; the outcome is then cancelled.
//   - Detach (server shutdown): once `detach` is set, run() returns "detached" at its next
//     check without touching the SageMaker job, which keeps running. The training job's name
//     is a function of the llmtune job id, so the next run() for the job finds it with
//     DescribeTrainingJob and re-attaches instead of creating a second one.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>

#include "common/error.h"
#include "common/json_file.h"
#include "service/sagemaker_requests.h"
#include "service/sagemaker_status.h"

namespace llmtune::service {

struct SageMakerRunInput {
    std::string job_id;
    SageMakerSettings settings;
    std::string train_file;       // local canonical JSONL
    std::string validation_file;  // "" = none
    std::string base_model_id;
    std::string base_model_dir;
    ordered_json train_config;    // the trainer config the local worker would get
    std::string output_dir;       // the job's output dir (the registry's copy of the model)
    std::string work_dir;         // scratch space for model.tar.gz
    std::optional<double> price_per_hour;  // the catalog's price for the instance type
    std::string price_source;
    int poll_interval_ms = 30000;
};

struct SageMakerOutcome {
    std::string status;  // succeeded | failed | cancelled | detached
    std::string error_code, error_message, error_hint;
    ordered_json metrics = ordered_json::object();
    ordered_json cost = nullptr;
    std::string training_job_name;
};

struct SageMakerCallbacks {
    std::function<void(const SageMakerEvent&)> event;
    std::function<void(const ordered_json& cost)> cost;  // when BillableTimeInSeconds appears
};

// Runs the job to its end (or detach). Errors before the training job exists (bad
// credentials, an S3 upload refused, CreateTrainingJob refused) throw llmtune::Error with the
// cause; a training job that fails is a "failed" outcome, not an exception.
SageMakerOutcome run_sagemaker_job(const SageMakerRunInput& input, const SageMakerCallbacks& cb,
                                   const std::atomic<bool>& stop, const std::atomic<bool>& detach);

// The hardware catalog's on-demand price for aws-sagemaker/<instance type> (data/
// hardware_catalog.yaml, compiled in); nullopt when the entry or its price is missing.
void sagemaker_catalog_price(const std::string& instance_type, std::optional<double>& price,
                             std::string& source);

// DescribeTrainingJob poll interval: $LLMTUNE_SAGEMAKER_POLL_MS, else 30 s.
int sagemaker_poll_interval_ms();

// The job error code for an Error raised before or around the training job: s3_access_denied,
// sagemaker_access_denied, sagemaker_quota, sagemaker_invalid_request, sagemaker_not_found,
// sagemaker_unreachable, internal_error.
std::string sagemaker_failure_code(const Error& e);

// The EBS volume for a job: room for the base model twice (the channel copy and the merged
// output), the checkpoints and the data, at least 30 GB.
int64_t sagemaker_volume_size_gb(uint64_t model_bytes, uint64_t data_bytes);

}  // namespace llmtune::service
