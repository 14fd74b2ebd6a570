#include "service/sagemaker_requests.h"

#include <regex>

#include "cloud/s3_client.h"
#include "sagemaker/hyperparameters.h"
#include "sagemaker/metric_lines.h"
#include "service/service_error.h"

namespace llmtune::service {

namespace {

[[noreturn]] void bad(const std::string& key, const std::string& message) {
    throw ServiceError(ErrorKind::invalid_input, message, "llmtune.backend." + key,
                       "invalid_backend");
}

std::string get_string(const ordered_json& b, const std::string& key, bool required) {
    auto it = b.find(key);
    if (it == b.end() || it->is_null()) {
        if (required) bad(key, "llmtune.backend." + key + " is required for the sagemaker backend.");
        return "";
    }
    if (!it->is_string()) bad(key, "llmtune.backend." + key + " must be a string.");
    return it->get<std::string>();
}

int64_t get_int(const ordered_json& b, const std::string& key, int64_t fallback, int64_t lo,
                int64_t hi) {
    auto it = b.find(key);
    if (it == b.end() || it->is_null()) return fallback;
    if (!it->is_number_integer())
        bad(key, "llmtune.backend." + key + " must be an integer.");
    const int64_t v = it->get<int64_t>();
    if (v < lo || v > hi)
        bad(key, "llmtune.backend." + key + " must be in [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "], got " + std::to_string(v) + ".");
    return v;
}

}  // namespace

ordered_json SageMakerSettings::to_json() const {
    ordered_json j = {{"type", "sagemaker"},
                      {"role_arn", role_arn},
                      {"image_uri", image_uri},
                      {"instance_type", instance_type},
                      {"instance_count", instance_count},
                      {"region", region},
                      {"s3_prefix", s3_prefix},
                      {"max_runtime_s", max_runtime_s},
                      {"spot", spot},
                      {"max_wait_s", max_wait_s},
                      {"volume_size_gb", volume_size_gb}};
    if (!model_s3_uri.empty()) j["model_s3_uri"] = model_s3_uri;
    if (!endpoint.empty()) j["endpoint"] = endpoint;
    if (!s3_endpoint.empty()) j["s3_endpoint"] = s3_endpoint;
    if (s3_path_style) j["s3_path_style"] = true;
    return j;
}

SageMakerSettings parse_sagemaker_settings(const ordered_json& b) {
    if (!b.is_object()) bad("", "llmtune.backend must be an object.");
    static const std::vector<std::string> known = {
        "type",   "role_arn",   "image_uri",      "instance_type", "instance_count",
        "region", "s3_prefix",  "max_runtime_s",  "spot",          "max_wait_s",
        "volume_size_gb", "model_s3_uri", "endpoint", "s3_endpoint", "s3_path_style"};
    for (const auto& [k, v] : b.items())
        if (std::find(known.begin(), known.end(), k) == known.end())
            bad(k, "Unknown setting llmtune.backend." + k + " for the sagemaker backend.");
    SageMakerSettings s;
    s.role_arn = get_string(b, "role_arn", true);
    // IAM's role ARN pattern, as CreateTrainingJob validates RoleArn.
    static const std::regex role_re(R"(arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+)");
    if (!std::regex_match(s.role_arn, role_re))
        bad("role_arn", "llmtune.backend.role_arn '" + s.role_arn +
                            "' is not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>).");
    s.image_uri = get_string(b, "image_uri", true);
    if (s.image_uri.empty() || s.image_uri.size() > 255 ||
        s.image_uri.find_first_of(" \t\n") != std::string::npos)
        bad("image_uri", "llmtune.backend.image_uri must be an image URI such as "
                         "<account>.dkr.ecr.<region>.amazonaws.com/llmtune:cpu.");
    s.instance_type = get_string(b, "instance_type", true);
    static const std::regex type_re(R"(ml\.[a-z0-9\-]+\.[a-z0-9]+)");
    if (!std::regex_match(s.instance_type, type_re))
        bad("instance_type", "llmtune.backend.instance_type '" + s.instance_type +
                                 "' is not a SageMaker instance type such as ml.g5.xlarge.");
    s.instance_count = get_int(b, "instance_count", 1, 1, 64);
    s.region = get_string(b, "region", true);
    static const std::regex region_re(R"([a-z]{2}(-[a-z]+)+-\d)");
    if (!std::regex_match(s.region, region_re))
        bad("region", "llmtune.backend.region '" + s.region + "' is not an AWS region such as us-east-1.");
    s.s3_prefix = get_string(b, "s3_prefix", true);
    try {
        cloud::parse_s3_uri(s.s3_prefix);
    } catch (const Error& e) {
        bad("s3_prefix", "llmtune.backend.s3_prefix: " + e.message());
    }
    s.max_runtime_s = get_int(b, "max_runtime_s", 86400, 1, 28 * 86400);
    if (auto it = b.find("spot"); it != b.end() && !it->is_null()) {
        if (!it->is_boolean()) bad("spot", "llmtune.backend.spot must be true or false.");
        s.spot = it->get<bool>();
    }
    s.max_wait_s = get_int(b, "max_wait_s", 0, 0, 28 * 86400);
    if (s.max_wait_s > 0 && !s.spot)
        bad("max_wait_s", "llmtune.backend.max_wait_s applies only with spot: true.");
    if (s.spot && s.max_wait_s == 0) s.max_wait_s = std::min<int64_t>(2 * s.max_runtime_s, 28 * 86400);
    if (s.spot && s.max_wait_s < s.max_runtime_s)
        bad("max_wait_s", "llmtune.backend.max_wait_s must be at least max_runtime_s (SageMaker "
                          "counts the wait for spot capacity in it).");
    s.volume_size_gb = get_int(b, "volume_size_gb", 0, 0, 16384);
    s.model_s3_uri = get_string(b, "model_s3_uri", false);
    if (!s.model_s3_uri.empty()) {
        try {
            cloud::parse_s3_uri(s.model_s3_uri);
        } catch (const Error& e) {
            bad("model_s3_uri", "llmtune.backend.model_s3_uri: " + e.message());
        }
    }
    s.endpoint = get_string(b, "endpoint", false);
    s.s3_endpoint = get_string(b, "s3_endpoint", false);
    if (auto it = b.find("s3_path_style"); it != b.end() && !it->is_null()) {
        if (!it->is_boolean()) bad("s3_path_style", "llmtune.backend.s3_path_style must be true or false.");
        s.s3_path_style = it->get<bool>();
    }
    return s;
}

std::string sagemaker_job_name(const std::string& job_id) {
    // TrainingJobName: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}
    std::string name = "llmtune-";
    for (char c : job_id) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
    if (name.size() > 63) name.resize(63);
    while (!name.empty() && name.back() == '-') name.pop_back();
    return name;
}

ordered_json create_training_job_body(const TrainingJobInput& in) {
    const auto& s = in.settings;
    // Members in the order the AWS SDK for JavaScript serializes them (its schema order), so
    // the bytes, and with them the payload hash and signature, are the SDK's.
    ordered_json body;
    body["TrainingJobName"] = in.job_name;
    body["RoleArn"] = s.role_arn;
    body["OutputDataConfig"] = {{"S3OutputPath", in.output_s3_uri}};
    ordered_json hp = ordered_json::object();
    for (const auto& [k, v] : in.hyperparameters) hp[k] = v;
    body["HyperParameters"] = hp;
    ordered_json metrics = ordered_json::array();
    for (const auto& d : sagemaker::metric_definitions())
        metrics.push_back({{"Name", d.name}, {"Regex", d.regex}});
    body["AlgorithmSpecification"] = {{"TrainingInputMode", "File"},
                                      {"TrainingImage", s.image_uri},
                                      {"MetricDefinitions", metrics}};
    ordered_json channels = ordered_json::array();
    auto channel = [&](const std::string& name, const std::string& uri) {
        channels.push_back(
            {{"ChannelName", name},
             {"DataSource",
              {{"S3DataSource",
                {{"S3DataType", "S3Prefix"},
                 {"S3Uri", uri},
                 {"S3DataDistributionType", "FullyReplicated"}}}}}});
    };
    channel("train", in.train_s3_uri);
    if (!in.validation_s3_uri.empty()) channel("validation", in.validation_s3_uri);
    channel("model", in.model_s3_uri);
    body["InputDataConfig"] = channels;
    body["ResourceConfig"] = {{"InstanceType", s.instance_type},
                              {"InstanceCount", s.instance_count},
                              {"VolumeSizeInGB", in.volume_size_gb}};
    ordered_json stopping = {{"MaxRuntimeInSeconds", s.max_runtime_s}};
    if (s.spot) stopping["MaxWaitTimeInSeconds"] = s.max_wait_s;
    body["StoppingCondition"] = stopping;
    if (!in.tags.empty()) {
        ordered_json tags = ordered_json::array();
        for (const auto& [k, v] : in.tags) tags.push_back({{"Key", k}, {"Value", v}});
        body["Tags"] = tags;
    }
    body["EnableManagedSpotTraining"] = s.spot;
    body["CheckpointConfig"] = {{"S3Uri", in.checkpoint_s3_uri}, {"LocalPath", "/opt/ml/checkpoints"}};
    return body;
}

ordered_json describe_training_job_body(const std::string& job_name) {
    return {{"TrainingJobName", job_name}};
}

ordered_json stop_training_job_body(const std::string& job_name) {
    return {{"TrainingJobName", job_name}};
}

std::vector<std::pair<std::string, std::string>> hyperparameters_from_train_config(
    const ordered_json& train_config) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& key : sagemaker::hyperparameter_keys()) {
        const size_t dot = key.find('.');
        const ordered_json* v = nullptr;
        if (dot == std::string::npos) {
            if (train_config.contains(key)) v = &train_config[key];
        } else {
            const std::string section = key.substr(0, dot), name = key.substr(dot + 1);
            if (train_config.contains(section) && train_config[section].contains(name))
                v = &train_config[section][name];
        }
        if (v && !v->is_null()) out.emplace_back(key, sagemaker::hyperparameter_string(*v));
    }
    return out;
}

}  // namespace llmtune::service
