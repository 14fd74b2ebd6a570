#include "train/manifest.h"

#include <chrono>
#include <ctime>

#include "llmtune_build_info.h"

namespace llmtune::train {

const char* llmtune_version() {
    return LLMTUNE_VERSION_STRING;
}

const char* llmtune_git_commit() {
    return LLMTUNE_GIT_COMMIT;
}

namespace {

std::string utc_now() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace

ordered_json build_manifest(const ManifestInputs& in) {
    ordered_json m;
    m["llmtune_version"] = llmtune_version();
    m["git_commit"] = llmtune_git_commit();
    m["created_at"] = utc_now();
    m["method"] = in.config->training.method;
    m["output"] = in.artifacts;
    ordered_json files = ordered_json::array();
    for (const auto& f : in.model_hash.files)
        files.push_back({{"file", f.file}, {"bytes", f.bytes}, {"sha256", f.sha256}});
    m["base_model"] = {
        {"path", in.config->model.path},
        {"model_type", in.model_type},
        {"sha256", in.model_hash.combined},
        {"hash_method",
         "sha256 over the lines '<sha256 of file>  <file name>\\n' of the *.safetensors files "
         "sorted by name (each file hashed whole)"},
        {"files", files}};
    ordered_json ds = ordered_json::array();
    for (const auto& d : in.datasets)
        ds.push_back({{"role", d.role},
                      {"path", d.path},
                      {"bytes", d.bytes},
                      {"sha256", d.sha256},
                      {"records", d.records},
                      {"examples", d.examples}});
    m["datasets"] = ds;
    m["hyperparameters"] = in.config->to_json();
    m["training"] = in.training;
    m["final_metrics"] = in.final_metrics;
    m["chat_template"] =
        in.chat_template.empty() ? ordered_json(nullptr) : ordered_json(in.chat_template);
    return m;
}

void write_manifest(const std::string& dir, const ManifestInputs& in) {
    write_json_file(dir + "/manifest.json", build_manifest(in));
}

}  // namespace llmtune::train
