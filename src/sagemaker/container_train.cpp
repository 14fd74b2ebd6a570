#include "sagemaker/container_train.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>

#include "common/atomic_file.h"
#include "common/error.h"
#include "dist/bucketed_sync.h"
#include "dist/process_group.h"
#include "dist/rank_env.h"
#include "model/hf_export.h"
#include "model/loader.h"
#include "model/peft_adapter.h"
#include "sagemaker/hyperparameters.h"
#include "sagemaker/input_config.h"
#include "sagemaker/metric_lines.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

namespace fs = std::filesystem;

namespace llmtune::sagemaker {

namespace {

// The channel's files, recursively (SageMaker keeps the S3 key structure below the channel's
// prefix), sorted by path; hidden files (".keep", editor files) are skipped.
std::vector<std::string> channel_files(const std::string& dir) {
    std::vector<std::string> out;
    for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator();
         ++it) {
        const std::string name = it->path().filename().string();
        if (!name.empty() && name[0] == '.') {
            if (it->is_directory()) it.disable_recursion_pending();
            continue;
        }
        if (it->is_regular_file()) out.push_back(it->path().string());
    }
    std::sort(out.begin(), out.end());
    return out;
}

void require_channel(const ContainerLayout& layout,
                     const std::map<std::string, ChannelConfig>& channels,
                     const std::string& name, const std::string& what) {
    if (!channels.count(name))
        throw Error(ErrorKind::invalid_input,
                    "the job has no '" + name + "' channel (" + what + "); " +
                        layout.input_data_config_file() + " lists only: " +
                        [&] {
                            std::string s;
                            for (const auto& [n, c] : channels) s += (s.empty() ? "" : ", ") + n;
                            return s.empty() ? std::string("(none)") : s;
                        }(),
                    "add an InputDataConfig channel named '" + name + "' to the training job");
    if (!fs::is_directory(layout.channel_dir(name)))
        throw Error(ErrorKind::not_found,
                    "channel '" + name + "': " + layout.channel_dir(name) + " is missing",
                    "the channel's S3 data was not downloaded; check its S3Uri and the role's "
                    "s3:GetObject/s3:ListBucket permissions");
}

// The base model directory in the model channel: the channel itself, or its one subdirectory
// holding config.json (an S3 prefix one level above the model's files).
std::string base_model_dir(const ContainerLayout& layout) {
    const std::string dir = layout.channel_dir("model");
    if (fs::exists(dir + "/config.json")) return dir;
    std::vector<std::string> found;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.is_directory() && fs::exists(e.path() / "config.json"))
            found.push_back(e.path().string());
    if (found.size() == 1) return found.front();
    throw Error(ErrorKind::invalid_input,
                "channel 'model': " + dir + " holds no Hugging Face model (no config.json " +
                    (found.empty() ? "at its top or in a subdirectory)"
                                   : "at its top, and " + std::to_string(found.size()) +
                                         " subdirectories hold one)"),
                "point the 'model' channel's S3Uri at the prefix holding config.json, "
                "*.safetensors and tokenizer.json");
}

void remove_path(const std::string& p) {
    std::error_code ec;
    fs::remove_all(p, ec);
    if (ec) throw_io(p + ": cannot remove: " + ec.message());
}

void copy_into(const std::string& from, const std::string& to) {
    std::error_code ec;
    fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
    if (ec) throw_io("cannot copy " + from + " to " + to + ": " + ec.message());
}

std::string dtype_of_base(const std::string& model_dir) {
    const auto cfg = model::load_model_config(model_dir);
    if (cfg.torch_dtype == "bfloat16") return "bf16";
    if (cfg.torch_dtype == "float16") return "f16";
    return "f32";
}

ContainerRunResult run(const ContainerLayout& layout, const ContainerRunOptions& options) {
    const auto channels = parse_input_data_config(read_json_file(layout.input_data_config_file()),
                                                  layout.input_data_config_file());
    const auto resources = parse_resource_config(read_json_file(layout.resource_config_file()),
                                                 layout.resource_config_file());
    // Multi-instance jobs: one data-parallel rank per host over c10d (torch's env://
    // convention, which dist/rank_env.h reads), the first host serving the rendezvous.
    std::optional<dist::RankEnv> rank_env;
    if (resources.hosts.size() > 1) {
        int port = 29500;
        if (const char* p = std::getenv("LLMTUNE_SM_MASTER_PORT"); p && *p) port = std::atoi(p);
        const RendezvousEnv env = rendezvous_env(resources, port);
        ::setenv("RANK", std::to_string(env.rank).c_str(), 1);
        ::setenv("WORLD_SIZE", std::to_string(env.world_size).c_str(), 1);
        ::setenv("LOCAL_RANK", "0", 1);
        ::setenv("LOCAL_WORLD_SIZE", "1", 1);
        ::setenv("MASTER_ADDR", env.master_addr.c_str(), 1);
        ::setenv("MASTER_PORT", std::to_string(env.master_port).c_str(), 1);
        rank_env = dist::rank_env_from_process();
        std::fprintf(stderr, "llmtune: host %s is rank %lld of %lld (rendezvous %s:%d)\n",
                     resources.current_host.c_str(), static_cast<long long>(env.rank),
                     static_cast<long long>(env.world_size), env.master_addr.c_str(),
                     env.master_port);
    }
    const bool root = !rank_env || rank_env->rank == 0;

    require_channel(layout, channels, "train", "the training data");
    require_channel(layout, channels, "model", "the base model");
    ContainerPaths paths;
    paths.model_dir = base_model_dir(layout);
    paths.train_files = channel_files(layout.channel_dir("train"));
    if (paths.train_files.empty())
        throw Error(ErrorKind::invalid_input,
                    "channel 'train': " + layout.channel_dir("train") + " holds no files",
                    "upload the training data (JSONL, CSV, ...) under the channel's S3Uri");
    if (channels.count("validation")) {
        require_channel(layout, channels, "validation", "the validation data");
        auto files = channel_files(layout.channel_dir("validation"));
        if (files.size() != 1)
            throw Error(ErrorKind::invalid_input,
                        "channel 'validation': expected exactly one file in " +
                            layout.channel_dir("validation") + ", found " +
                            std::to_string(files.size()),
                        "give the validation data as one file");
        paths.validation_file = files.front();
    }
    paths.output_dir = layout.checkpoints_dir();

    // A job created without HyperParameters may come without the file: the defaults apply.
    const json hyperparameters = fs::exists(layout.hyperparameters_file())
                                     ? read_json_file(layout.hyperparameters_file())
                                     : json::object();
    auto parsed = config_from_hyperparameters(hyperparameters, layout.hyperparameters_file(), paths);
    train::TrainConfig config = parsed.config;
    if (options.threads >= 0) config.threads = options.threads;
    for (const auto& key : parsed.ignored)
        std::fprintf(stderr, "llmtune: ignoring the SageMaker SDK's hyperparameter %s\n",
                     key.c_str());

    ContainerRunResult result;
    train::ResumeOptions resume;
    if (auto latest = train::latest_checkpoint(layout.checkpoints_dir() + "/checkpoints")) {
        resume.resume = true;  // a restart after a spot interruption (or a retried job)
        result.resumed = true;
        result.resumed_from_step = latest->step;
        std::fprintf(stderr, "llmtune: resuming from the checkpoint %s (step %lld)\n",
                     latest->dir.c_str(), static_cast<long long>(latest->step));
    }

    std::unique_ptr<dist::ProcessGroup> group;
    std::unique_ptr<dist::DistributedSync> sync;
    if (rank_env) {
        // CUDA ranks use NCCL (each host's first GPU), CPU ranks Gloo.
        const bool cuda = config.model.device.rfind("cuda", 0) == 0;
        if (cuda) config.model.device = "cuda:0";
        group = dist::ProcessGroup::connect(*rank_env, cuda ? dist::Backend::nccl : dist::Backend::gloo,
                                            dist::dist_timeout_from_process());
        sync = std::make_unique<dist::DistributedSync>(*group, dist::sync_options_from_process());
    }

    train::TrainerHooks hooks;
    hooks.stop = options.stop;
    hooks.sync = sync.get();
    hooks.on_event = [&](const ordered_json& e) {
        const std::string line = metric_line(e);
        // Every rank logs the global figures; only the first host prints them, so SageMaker
        // sees each value once.
        if (!line.empty() && options.metrics && root) {
            std::fprintf(options.metrics, "%s\n", line.c_str());
            std::fflush(options.metrics);  // CloudWatch (and the metric regexes) see it now
        }
        const std::string type = e.value("type", "");
        if (type == "start" || type == "resume")
            std::fprintf(stderr, "llmtune: %s %s training: %lld examples, %lld steps\n",
                         type == "resume" ? "resuming" : "starting",
                         e.value("method", "").c_str(),
                         static_cast<long long>(e.value("train_examples", int64_t{0})),
                         static_cast<long long>(e.value("total_steps", int64_t{0})));
        else if (type == "checkpoint")
            std::fprintf(stderr, "llmtune: checkpoint at step %lld: %s\n",
                         static_cast<long long>(e.value("step", int64_t{0})),
                         e.value("path", "").c_str());
    };
    const train::TrainResult r = train::run_training(config, resume, hooks);
    result.steps = r.steps;
    result.total_steps = r.total_steps;
    result.stop_reason = r.stop_reason;
    result.final_metrics = r.final_metrics;

    // Only the first host writes (the trainer wrote the adapter and manifest on rank 0 only).
    if (!root) return result;

    // The outputs SageMaker uploads as model.tar.gz. A restarted container may find an earlier
    // attempt's outputs: ours are replaced, anything else is left alone.
    const std::string out = layout.model_dir();
    make_dirs(out);
    for (const char* name : {"adapter", "merged", "manifest.json", "events.jsonl"})
        remove_path(out + "/" + name);
    const bool lora = config.method() == train::TrainMethod::lora;
    if (lora) {
        make_dirs(out + "/adapter");
        for (const char* f : {"adapter_config.json", "adapter_model.safetensors"})
            copy_into(r.output_dir + "/" + f, out + "/adapter/" + f);
        // The merged model, in the base's dtype (as `llmtune export --format hf` defaults).
        std::fprintf(stderr, "llmtune: merging the adapter into the base model\n");
        const std::string dtype = dtype_of_base(config.model.path);
        model::LoadOptions lo;
        lo.dtype = dtype == "bf16" ? torch::kBFloat16 : torch::kFloat32;  // merge sums in f32
        auto lm = model::load_causal_lm(config.model.path, lo);
        model::load_peft_adapter(out + "/adapter", lm);
        model::HfExportOptions eo;
        eo.dtype = model::parse_dtype(dtype);
        model::export_hf(lm, config.model.path, out + "/merged", eo);
    } else {
        // Full fine-tuning: the trainer's output is already a Hugging Face directory.
        const auto manifest = read_ordered_json_file(r.output_dir + "/manifest.json");
        make_dirs(out + "/merged");
        for (const auto& f : manifest.value("output", ordered_json::array()))
            if (f.is_string() && f.get<std::string>() != "manifest.json")
                copy_into(r.output_dir + "/" + f.get<std::string>(),
                          out + "/merged/" + f.get<std::string>());
    }
    ordered_json manifest = read_ordered_json_file(r.output_dir + "/manifest.json");
    ordered_json sm = {{"current_host", resources.current_host},
                       {"hosts", resources.hosts},
                       {"resumed_from_step", result.resumed ? ordered_json(result.resumed_from_step)
                                                            : ordered_json(nullptr)},
                       {"outputs", lora ? ordered_json{"adapter/", "merged/"}
                                        : ordered_json{"merged/"}}};
    for (const char* env : {"TRAINING_JOB_NAME", "TRAINING_JOB_ARN"})
        if (const char* v = std::getenv(env)) sm[env == std::string("TRAINING_JOB_NAME")
                                                     ? "training_job_name"
                                                     : "training_job_arn"] = v;
    manifest["sagemaker"] = sm;
    write_json_file(out + "/manifest.json", manifest);
    copy_into(r.output_dir + "/events.jsonl", out + "/events.jsonl");
    return result;
}

}  // namespace

ContainerRunResult run_container_training(const ContainerLayout& layout,
                                          const ContainerRunOptions& options) {
    try {
        return run(layout, options);
    } catch (const Error& e) {
        std::string text = std::string(error_kind_name(e.kind())) + ": " + e.message();
        if (!e.hint().empty()) text += "\nhint: " + e.hint();
        write_failure_file(layout, text);
        throw;
    } catch (const std::exception& e) {
        write_failure_file(layout, std::string("internal: ") + e.what());
        throw;
    }
}

}  // namespace llmtune::sagemaker
