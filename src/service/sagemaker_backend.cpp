#include "service/sagemaker_backend.h"

#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>

#include "cloud/s3_client.h"
#include "common/atomic_file.h"
#include "common/error.h"
#include "service/sagemaker_api.h"
#include "train/file_hash.h"
#include "train/hardware_profile.h"

extern char** environ;

namespace fs = std::filesystem;

namespace llmtune::service {

namespace {

std::string join_key(const std::string& prefix, const std::string& rest) {
    return prefix.empty() ? rest : prefix + "/" + rest;
}

// The base model's files, relative names sorted, hidden files skipped.
std::vector<std::string> model_files(const std::string& dir) {
    std::vector<std::string> out;
    for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
        const std::string name = it->path().filename().string();
        if (!name.empty() && name[0] == '.') {
            if (it->is_directory()) it.disable_recursion_pending();
            continue;
        }
        if (it->is_regular_file()) out.push_back(fs::relative(it->path(), dir).string());
    }
    std::sort(out.begin(), out.end());
    return out;
}

// Runs `tar -xzf archive -C dir` (no shell); io Error on failure.
void untar(const std::string& archive, const std::string& dir) {
    std::vector<std::string> args = {"tar", "-xzf", archive, "-C", dir, "--no-same-owner"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    if (int rc = ::posix_spawnp(&pid, "tar", nullptr, nullptr, argv.data(), environ); rc != 0)
        throw_io("cannot run tar to unpack " + archive + ": " + errno_text(rc),
                 "install tar (Debian package tar)");
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw_io("tar could not unpack " + archive + " (the job's model.tar.gz)");
}

void copy_file_into(const fs::path& from, const fs::path& to) {
    std::error_code ec;
    fs::create_directories(to.parent_path(), ec);
    fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
    if (ec) throw_io("cannot copy " + from.string() + " to " + to.string() + ": " + ec.message());
}

bool sleep_until_flag(int ms, const std::atomic<bool>& a, const std::atomic<bool>& b) {
    for (int waited = 0; waited < ms; waited += 50) {
        if (a.load() || b.load()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(50, ms - waited)));
    }
    return a.load() || b.load();
}

bool is_missing_job(const SageMakerError& e) {
    // DescribeTrainingJob answers a missing job with ValidationException "Requested resource
    // not found".
    return e.code() == "ResourceNotFound" ||
           (e.code() == "ValidationException" &&
            e.message().find("not found") != std::string::npos);
}

}  // namespace

void sagemaker_catalog_price(const std::string& instance_type, std::optional<double>& price,
                             std::string& source) {
    price.reset();
    source.clear();
    for (const auto& h : train::load_hardware_catalog())
        if (h.name == "aws-sagemaker/" + instance_type && h.price_per_hour) {
            price = h.price_per_hour;
            source = h.price_source;
        }
}

int sagemaker_poll_interval_ms() {
    if (const char* v = std::getenv("LLMTUNE_SAGEMAKER_POLL_MS"); v && *v) {
        const int ms = std::atoi(v);
        if (ms > 0) return ms;
    }
    return 30000;
}

std::string sagemaker_failure_code(const Error& e) {
    if (const auto* s3 = dynamic_cast<const cloud::S3Error*>(&e))
        return s3->code() == "AccessDenied" ? "s3_access_denied" : "s3_error";
    switch (e.kind()) {
        case ErrorKind::unauthorized: return "sagemaker_access_denied";
        case ErrorKind::resource_exhausted: return "sagemaker_quota";
        case ErrorKind::invalid_input:
        case ErrorKind::conflict: return "sagemaker_invalid_request";
        case ErrorKind::not_found: return "sagemaker_not_found";
        case ErrorKind::io: return "sagemaker_unreachable";
        default: return "internal_error";
    }
}

int64_t sagemaker_volume_size_gb(uint64_t model_bytes, uint64_t data_bytes) {
    // The model channel copy, the merged output, and full fine-tuning's checkpoints (f32
    // weights and two AdamW moments: up to 6x a bf16 model each, two kept by default).
    const double bytes = 10.0 * static_cast<double>(model_bytes) + 2.0 * static_cast<double>(data_bytes);
    return std::max<int64_t>(30, static_cast<int64_t>(std::ceil(bytes / 1e9)) + 10);
}

SageMakerOutcome run_sagemaker_job(const SageMakerRunInput& in, const SageMakerCallbacks& cb,
                                   const std::atomic<bool>& stop, const std::atomic<bool>& detach) {
    const auto& s = in.settings;
    auto event = [&](const std::string& level, const std::string& message,
                     ordered_json data = ordered_json::object()) {
        SageMakerEvent e;
        e.level = level;
        e.message = message;
        e.data = std::move(data);
        if (cb.event) cb.event(e);
    };

    const cloud::AwsCredentials creds = cloud::resolve_aws_credentials();
    SageMakerApiConfig api_cfg;
    api_cfg.region = s.region;
    api_cfg.endpoint = s.endpoint;
    api_cfg.credentials = creds;
    SageMakerApi api(api_cfg);

    SageMakerOutcome out;
    out.training_job_name = sagemaker_job_name(in.job_id);
    const std::string name = out.training_job_name;

    bool exists = false;
    try {
        api.call("DescribeTrainingJob", describe_training_job_body(name));
        exists = true;
        event("info", "Re-attached to the SageMaker training job " + name + ".",
              {{"training_job_name", name}});
    } catch (const SageMakerError& e) {
        if (!is_missing_job(e)) throw;
    }

    cloud::S3Config s3_cfg;
    s3_cfg.region = s.region;
    s3_cfg.endpoint = s.s3_endpoint;
    s3_cfg.path_style = s.s3_path_style;
    s3_cfg.credentials = creds;
    cloud::S3Client s3(s3_cfg);
    const cloud::S3Location base = cloud::parse_s3_uri(s.s3_prefix);
    const std::string job_key = join_key(base.prefix, "jobs/" + in.job_id);
    auto uri = [&](const std::string& key) { return "s3://" + base.bucket + "/" + key; };

    if (!exists) {
        // 1. Data and base model.
        uint64_t data_bytes = 0, model_bytes = 0;
        s3.put_file(base.bucket, job_key + "/data/train/train.jsonl", in.train_file, "application/jsonlines");
        data_bytes += fs::file_size(in.train_file);
        if (!in.validation_file.empty()) {
            s3.put_file(base.bucket, job_key + "/data/validation/valid.jsonl", in.validation_file,
                        "application/jsonlines");
            data_bytes += fs::file_size(in.validation_file);
        }
        event("info", "Uploaded the training data to " + uri(job_key + "/data/") + ".");

        std::string model_uri = s.model_s3_uri;
        for (const auto& f : model_files(in.base_model_dir))
            model_bytes += fs::file_size(fs::path(in.base_model_dir) / f);
        if (model_uri.empty()) {
            const std::string model_key = join_key(base.prefix, "models/" + in.base_model_id);
            ordered_json listing = ordered_json::array();
            for (const auto& f : model_files(in.base_model_dir)) {
                const std::string path = (fs::path(in.base_model_dir) / f).string();
                listing.push_back({{"file", f}, {"bytes", fs::file_size(path)}, {"sha256", train::sha256_file(path)}});
            }
            const std::string marker = model_key + "/.llmtune-upload.json";
            bool uploaded = false;
            if (s3.head(base.bucket, marker)) {
                auto remote = ordered_json::parse(s3.get_string(base.bucket, marker), nullptr, false);
                uploaded = !remote.is_discarded() && remote == listing;
            }
            if (uploaded) {
                event("info", "The base model is already in S3 at " + uri(model_key + "/") + ".");
            } else {
                for (const auto& f : listing)
                    s3.put_file(base.bucket, model_key + "/" + f["file"].get<std::string>(),
                                (fs::path(in.base_model_dir) / f["file"].get<std::string>()).string());
                s3.put_string(base.bucket, marker, listing.dump(), "application/json");
                event("info", "Uploaded the base model to " + uri(model_key + "/") + ".");
            }
            model_uri = uri(model_key + "/");
        }

        // 2. The training job (not created when a cancel came during the uploads).
        if (stop.load()) {
            out.status = "cancelled";
            return out;
        }
        ordered_json cfg = in.train_config;
        const bool gpu = s.instance_type.rfind("ml.g", 0) == 0 || s.instance_type.rfind("ml.p", 0) == 0;
        cfg["model"]["device"] = gpu ? "cuda" : "cpu";
        cfg["threads"] = 0;
        TrainingJobInput job;
        job.job_name = name;
        job.settings = s;
        job.train_s3_uri = uri(job_key + "/data/train/");
        if (!in.validation_file.empty()) job.validation_s3_uri = uri(job_key + "/data/validation/");
        job.model_s3_uri = model_uri;
        job.output_s3_uri = uri(job_key + "/output/");
        job.checkpoint_s3_uri = uri(job_key + "/checkpoints/");
        job.hyperparameters = hyperparameters_from_train_config(cfg);
        job.volume_size_gb = s.volume_size_gb > 0 ? s.volume_size_gb
                                                  : sagemaker_volume_size_gb(model_bytes, data_bytes);
        job.tags = {{"llmtune:job", in.job_id}};
        auto created = api.call("CreateTrainingJob", create_training_job_body(job));
        event("info", "Created the SageMaker training job " + name + " (" + s.instance_type +
                          (s.spot ? ", managed spot" : "") + ").",
              {{"training_job_name", name}, {"training_job_arn", created.value("TrainingJobArn", "")}});
    }

    // 3. Poll.
    SageMakerSeen seen;
    bool stop_sent = false;
    while (true) {
        if (detach.load()) {
            out.status = "detached";
            return out;
        }
        if (stop.load() && !stop_sent) {
            try {
                api.call("StopTrainingJob", stop_training_job_body(name));
                event("info", "Asked SageMaker to stop the training job " + name + ".");
            } catch (const SageMakerError& e) {
                // Stopping a job that already ended is refused; the next Describe says how it ended.
                event("warn", "StopTrainingJob: " + e.message());
            }
            stop_sent = true;
        }
        const ordered_json d = api.call("DescribeTrainingJob", describe_training_job_body(name));
        SageMakerUpdate u = map_describe_training_job(d, seen, stop_sent);
        for (const auto& e : u.events)
            if (cb.event) cb.event(e);
        out.metrics = u.metrics;
        if (u.billable_seconds) {
            out.cost = sagemaker_cost(*u.billable_seconds, s.instance_count, s.instance_type,
                                      in.price_per_hour, in.price_source);
            if (cb.cost) cb.cost(out.cost);
        }
        if (u.terminal) {
            out.status = u.status;
            out.error_code = u.error_code;
            out.error_message = u.error_message;
            out.error_hint = u.error_hint;
            if (u.status == "succeeded") {
                // 4. The model into the registry.
                if (u.model_artifacts.empty())
                    throw Error(ErrorKind::io, "SageMaker reported " + name +
                                                   " Completed without ModelArtifacts");
                const cloud::S3Location art = cloud::parse_s3_uri(u.model_artifacts);
                const std::string unpack = in.work_dir + "/sagemaker-model";
                std::error_code ec;
                fs::remove_all(unpack, ec);
                make_dirs(unpack);
                s3.get_file(art.bucket, art.prefix, in.work_dir + "/model.tar.gz");
                untar(in.work_dir + "/model.tar.gz", unpack);
                const bool lora = fs::exists(unpack + "/adapter/adapter_config.json");
                const fs::path src = lora ? fs::path(unpack) / "adapter" : fs::path(unpack) / "merged";
                if (!fs::is_directory(src))
                    throw Error(ErrorKind::io, u.model_artifacts +
                                                   " holds neither adapter/ nor merged/: not an "
                                                   "llmtune training image's output",
                                "check llmtune.backend.image_uri");
                make_dirs(in.output_dir);
                for (const auto& e : fs::directory_iterator(src))
                    if (e.is_regular_file()) copy_file_into(e.path(), fs::path(in.output_dir) / e.path().filename());
                for (const char* f : {"manifest.json", "events.jsonl"})
                    if (fs::exists(unpack + "/" + f)) copy_file_into(unpack + "/" + f, fs::path(in.output_dir) / f);
                fs::remove(in.work_dir + "/model.tar.gz", ec);
                event("info", "Fetched " + u.model_artifacts + " into the model registry.");
            }
            return out;
        }
        sleep_until_flag(in.poll_interval_ms, detach, stop_sent ? detach : stop);
    }
}

}  // namespace llmtune::service
