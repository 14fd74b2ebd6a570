#include "service/sagemaker_status.h"

#include <algorithm>
#include <cmath>

namespace llmtune::service {

namespace {

bool contains(const std::string& text, const char* what) {
    return text.find(what) != std::string::npos;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

// SageMaker's secondary statuses in words llmtune's events use.
std::string describe_secondary(const std::string& s) {
    if (s == "Starting") return "Starting the training job";
    if (s == "Pending") return "Waiting for capacity";
    if (s == "LaunchingMLInstances") return "Launching the training instances";
    if (s == "PreparingTrainingStack") return "Preparing the training stack";
    if (s == "Downloading") return "Downloading the input data and base model";
    if (s == "DownloadingTrainingImage") return "Downloading the training image";
    if (s == "Training") return "Training";
    if (s == "Uploading") return "Uploading the trained model";
    if (s == "Interrupted") return "The spot instance was interrupted";
    if (s == "Restarting") return "Restarting after an interruption (training resumes from the last checkpoint)";
    if (s == "Stopping") return "Stopping";
    if (s == "Stopped") return "Stopped";
    if (s == "MaxRuntimeExceeded") return "Stopped: MaxRuntimeInSeconds was reached";
    if (s == "MaxWaitTimeExceeded") return "Stopped: MaxWaitTimeInSeconds was reached";
    if (s == "Completed") return "Completed";
    if (s == "Failed") return "Failed";
    return s;
}

}  // namespace

std::pair<std::string, std::string> classify_failure_reason(const std::string& reason) {
    const std::string l = lower(reason);
    if (contains(l, "cannotpullcontainer") || contains(l, "requested image") ||
        (contains(l, "image") && (contains(l, "does not exist") || contains(l, "not found") ||
                                  contains(l, "not exist"))))
        return {"sagemaker_image_not_found",
                "SageMaker could not pull llmtune.backend.image_uri: push the image to ECR in the "
                "job's region (see docs/sagemaker.md for the Dockerfiles) and give the execution "
                "role ecr:BatchGetImage, ecr:GetDownloadUrlForLayer and ecr:GetAuthorizationToken"};
    if (contains(l, "accessdenied") || contains(l, "access denied") ||
        contains(l, "not authorized") || contains(l, "403 forbidden") || contains(l, "(403)"))
        return {"sagemaker_access_denied",
                "the execution role (llmtune.backend.role_arn) cannot reach the job's S3 data: it "
                "needs s3:ListBucket on the bucket and s3:GetObject/s3:PutObject under "
                "llmtune.backend.s3_prefix, and the bucket policy (and any KMS key policy) must "
                "allow the role; docs/sagemaker.md has the exact policies"};
    if (contains(l, "resourcelimitexceeded") || contains(l, "quota") ||
        contains(l, "account-level service limit") || contains(l, "service limit"))
        return {"sagemaker_quota",
                "the account's SageMaker quota for this instance type is used up: request an "
                "increase in Service Quotas (\"<instance type> for training job usage\", or the "
                "spot variant) or choose another instance type"};
    if (contains(l, "insufficientcapacity") || contains(l, "insufficient capacity"))
        return {"sagemaker_capacity",
                "SageMaker had no capacity for this instance type: retry later, choose another "
                "instance type or region, or raise max_wait_s for spot"};
    return {"sagemaker_failed", ""};
}

SageMakerUpdate map_describe_training_job(const ordered_json& d, SageMakerSeen& seen,
                                          bool stop_requested) {
    SageMakerUpdate u;
    const std::string status = d.value("TrainingJobStatus", "");
    const std::string secondary = d.value("SecondaryStatus", "");

    // One event per new secondary-status transition (and one when the current transition's
    // message changes, e.g. "Downloading input data" -> "Downloading the training image").
    const ordered_json transitions = d.value("SecondaryStatusTransitions", ordered_json::array());
    for (size_t i = 0; i < transitions.size(); ++i) {
        const auto& t = transitions[i];
        const std::string s = t.value("Status", "");
        const std::string msg = t.value("StatusMessage", "");
        const bool is_new = i >= seen.transitions;
        const bool changed = i + 1 == seen.transitions && i + 1 == transitions.size() &&
                             msg != seen.last_transition_message && !msg.empty();
        if (!is_new && !changed) continue;
        SageMakerEvent e;
        e.level = s == "Failed" ? "error"
                  : (s == "Interrupted" || s == "MaxRuntimeExceeded" ||
                     s == "MaxWaitTimeExceeded")
                      ? "warn"
                      : "info";
        e.message = "SageMaker: " + describe_secondary(s) + (msg.empty() ? "" : " (" + msg + ")");
        e.data = {{"sagemaker_status", s}};
        if (!msg.empty()) e.data["status_message"] = msg;
        u.events.push_back(e);
    }
    if (!transitions.empty()) {
        seen.transitions = transitions.size();
        seen.last_transition_message = transitions.back().value("StatusMessage", "");
    } else if (!secondary.empty() && secondary != seen.secondary_status) {
        // Answers without the transition list still report the secondary status.
        SageMakerEvent e;
        e.message = "SageMaker: " + describe_secondary(secondary);
        e.data = {{"sagemaker_status", secondary}};
        u.events.push_back(e);
    }

    // FinalMetricDataList: the last value of each MetricDefinition SageMaker scraped.
    ordered_json metrics = ordered_json::object();
    for (const auto& m : d.value("FinalMetricDataList", ordered_json::array()))
        if (m.contains("MetricName") && m.contains("Value") && m["Value"].is_number())
            metrics[m["MetricName"].get<std::string>()] = m["Value"];
    u.metrics = metrics;
    if (!metrics.empty() && metrics != seen.metrics) {
        SageMakerEvent e;
        e.type = "metrics";
        std::string text;
        for (const auto& [k, v] : metrics.items()) {
            char buf[64];
            std::snprintf(buf, sizeof buf, "%s=%.6g", k.c_str(), v.get<double>());
            text += (text.empty() ? "" : ", ") + std::string(buf);
        }
        e.message = "SageMaker metrics: " + text;
        e.data = metrics;
        u.events.push_back(e);
        seen.metrics = metrics;
    }

    if (d.contains("BillableTimeInSeconds") && d["BillableTimeInSeconds"].is_number_integer())
        u.billable_seconds = d["BillableTimeInSeconds"].get<int64_t>();
    if (d.contains("TrainingTimeInSeconds") && d["TrainingTimeInSeconds"].is_number_integer())
        u.training_seconds = d["TrainingTimeInSeconds"].get<int64_t>();
    if (d.contains("ModelArtifacts") && d["ModelArtifacts"].is_object())
        u.model_artifacts = d["ModelArtifacts"].value("S3ModelArtifacts", "");

    if (status == "Completed") {
        u.status = "succeeded";
        u.terminal = true;
    } else if (status == "Failed") {
        u.status = "failed";
        u.terminal = true;
        u.error_message = d.value("FailureReason", "");
        if (u.error_message.empty()) u.error_message = "SageMaker reported the job as Failed without a reason.";
        std::tie(u.error_code, u.error_hint) = classify_failure_reason(u.error_message);
    } else if (status == "Stopped") {
        u.terminal = true;
        if (!stop_requested && (secondary == "MaxRuntimeExceeded" || secondary == "MaxWaitTimeExceeded")) {
            u.status = "failed";
            u.error_code = secondary == "MaxRuntimeExceeded" ? "max_runtime_exceeded"
                                                             : "max_wait_time_exceeded";
            u.error_message = secondary == "MaxRuntimeExceeded"
                                  ? "SageMaker stopped the job at MaxRuntimeInSeconds."
                                  : "SageMaker stopped the job at MaxWaitTimeInSeconds (spot "
                                    "capacity wait plus training time).";
            u.error_hint = secondary == "MaxRuntimeExceeded"
                               ? "raise llmtune.backend.max_runtime_s or train fewer steps"
                               : "raise llmtune.backend.max_wait_s, or run without spot";
        } else {
            u.status = "cancelled";
        }
    } else {
        u.status = "running";  // InProgress, Stopping
    }
    seen.status = status;
    seen.secondary_status = secondary;
    return u;
}

ordered_json sagemaker_cost(int64_t billable_seconds, int64_t instance_count,
                            const std::string& instance_type,
                            std::optional<double> price_per_hour,
                            const std::string& price_source) {
    ordered_json c = {{"source", "sagemaker"},
                      {"billable_seconds", billable_seconds},
                      {"instance_type", instance_type},
                      {"instance_count", instance_count},
                      {"price_per_hour_usd", price_per_hour ? ordered_json(*price_per_hour) : ordered_json(nullptr)},
                      {"usd", nullptr}};
    if (price_per_hour) {
        c["usd"] = static_cast<double>(billable_seconds) * static_cast<double>(instance_count) *
                   *price_per_hour / 3600.0;
        c["price_source"] = price_source;
    } else {
        c["note"] = "the hardware catalog has no price for aws-sagemaker/" + instance_type;
    }
    return c;
}

}  // namespace llmtune::service
