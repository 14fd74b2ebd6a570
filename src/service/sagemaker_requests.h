// The SageMaker backend's settings (the `llmtune.backend` object of a job request) and the
// JSON bodies of CreateTrainingJob, DescribeTrainingJob and StopTrainingJob, as SageMaker's
// JSON API (awsJson1_1) takes them. Torch-free, no I/O: the bodies are pure functions of
// their inputs, so tests compare them with what the AWS SDK sends for the same job.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/json_file.h"

namespace llmtune::service {

// "llmtune": {"backend": {"type": "sagemaker", ...}}; defaults in comments.
struct SageMakerSettings {
    std::string role_arn;       // the execution role SageMaker assumes (required)
    std::string image_uri;      // the llmtune training image in ECR (required)
    std::string instance_type;  // "ml.g5.xlarge" (required)
    int64_t instance_count = 1;
    std::string region;         // required
    std::string s3_prefix;      // s3://bucket/prefix for data, model, checkpoints, output (required)
    int64_t max_runtime_s = 86400;  // StoppingCondition.MaxRuntimeInSeconds
    bool spot = false;              // EnableManagedSpotTraining
    int64_t max_wait_s = 0;         // spot: MaxWaitTimeInSeconds (0 = 2 x max_runtime_s)
    int64_t volume_size_gb = 0;     // ResourceConfig.VolumeSizeInGB (0 = from the model size)
    std::string model_s3_uri;       // the base model already in S3 ("" = upload it)
    std::string endpoint;           // the SageMaker API URL ("" = https://api.sagemaker.<region>.amazonaws.com)
    std::string s3_endpoint;        // an S3-compatible endpoint ("" = AWS)
    bool s3_path_style = false;

    ordered_json to_json() const;
};

// Reads and checks the backend object; ServiceError invalid_input naming the parameter
// ("llmtune.backend.role_arn") for the first bad value.
SageMakerSettings parse_sagemaker_settings(const ordered_json& backend);

// A SageMaker training job name for an llmtune job id: "llmtune-<id>" with characters
// SageMaker refuses replaced, at most 63 characters.
std::string sagemaker_job_name(const std::string& job_id);

struct TrainingJobInput {
    std::string job_name;
    SageMakerSettings settings;
    std::string train_s3_uri;       // s3://... prefix of the train channel
    std::string validation_s3_uri;  // "" = no validation channel
    std::string model_s3_uri;       // the base model's prefix (the model channel)
    std::string output_s3_uri;      // OutputDataConfig.S3OutputPath
    std::string checkpoint_s3_uri;  // CheckpointConfig.S3Uri
    std::vector<std::pair<std::string, std::string>> hyperparameters;  // all strings
    int64_t volume_size_gb = 30;
    std::vector<std::pair<std::string, std::string>> tags;
};

ordered_json create_training_job_body(const TrainingJobInput& in);
ordered_json describe_training_job_body(const std::string& job_name);
ordered_json stop_training_job_body(const std::string& job_name);

// The trainer config (docs/config.md layout) flattened into SageMaker hyperparameters: one
// dotted key per setting, every value a string (sagemaker/hyperparameters.h reads them back).
// The container's own paths (model.path, data.*, output.dir) are left out.
std::vector<std::pair<std::string, std::string>> hyperparameters_from_train_config(
    const ordered_json& train_config);

}  // namespace llmtune::service
