// SageMaker's view of a training job (a DescribeTrainingJob answer) mapped onto llmtune's:
// the job status, the events to append, the metrics, the failure with a hint, and the cost.
// Pure functions of the answers seen so far, so tests drive them with recorded sequences.
//
//   TrainingJobStatus  SecondaryStatus                     llmtune
//   InProgress         Starting, Pending, Launching...,    running (each new secondary
//                      Downloading, Training, Uploading,   status transition is an event,
//                      Interrupted, Restarting, Updating   with SageMaker's StatusMessage)
//   Stopping           Stopping                            running (a "stopping" event)
//   Completed          Completed                           succeeded once model.tar.gz is
//                                                          fetched (the backend does that)
//   Failed             Failed                              failed: FailureReason verbatim,
//                                                          plus a hint for common causes
//   Stopped            Stopped                             cancelled
//   Stopped            MaxRuntimeExceeded,                 failed (a limit ended it, not a
//                      MaxWaitTimeExceeded                 cancel), code max_runtime_exceeded
//                                                          / max_wait_time_exceeded
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/json_file.h"

namespace llmtune::service {

// What earlier answers already reported (kept by the caller between polls).
struct SageMakerSeen {
    std::string status;            // TrainingJobStatus
    std::string secondary_status;  // SecondaryStatus
    size_t transitions = 0;        // SecondaryStatusTransitions already turned into events
    std::string last_transition_message;  // the newest transition's StatusMessage reported
    ordered_json metrics = ordered_json::object();  // FinalMetricDataList as reported
};

struct SageMakerEvent {
    std::string level = "info";  // info | warn | error
    std::string message;
    std::string type = "message";  // message | metrics
    ordered_json data = ordered_json::object();
};

struct SageMakerUpdate {
    // "running", "succeeded" (Completed: fetch model.tar.gz next), "failed" or "cancelled".
    std::string status;
    bool terminal = false;
    std::vector<SageMakerEvent> events;
    ordered_json metrics = ordered_json::object();  // name -> value, from FinalMetricDataList
    std::string error_code;     // failed: sagemaker_access_denied, sagemaker_image_not_found,
                                // sagemaker_quota, sagemaker_capacity, max_runtime_exceeded,
                                // max_wait_time_exceeded, or sagemaker_failed
    std::string error_message;  // FailureReason verbatim (or what ended the job)
    std::string error_hint;     // what to do, for the common causes; "" otherwise
    std::string model_artifacts;  // ModelArtifacts.S3ModelArtifacts (s3://.../model.tar.gz)
    std::optional<int64_t> billable_seconds;  // BillableTimeInSeconds
    std::optional<int64_t> training_seconds;  // TrainingTimeInSeconds
};

// Maps one DescribeTrainingJob answer, updating `seen`. `stop_requested`: llmtune asked for
// StopTrainingJob (a Stopped job is then a cancel).
SageMakerUpdate map_describe_training_job(const ordered_json& describe, SageMakerSeen& seen,
                                          bool stop_requested);

// The error code and hint for a FailureReason (the code is sagemaker_failed and the hint ""
// when no common cause matches).
std::pair<std::string, std::string> classify_failure_reason(const std::string& reason);

// The job's cost: BillableTimeInSeconds x InstanceCount x the instance's on-demand price per
// hour. `price_per_hour` is the hardware catalog's price for aws-sagemaker/<instance type>, or
// nullopt when the catalog has none: the cost is then null, never a guess.
ordered_json sagemaker_cost(int64_t billable_seconds, int64_t instance_count,
                            const std::string& instance_type,
                            std::optional<double> price_per_hour,
                            const std::string& price_source);

}  // namespace llmtune::service
