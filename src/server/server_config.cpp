#include "server/server_config.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <filesystem>
#include <limits>

#include "cloud/s3_client.h"
#include "common/error.h"

namespace llmtune::server {

namespace {

std::string env_name(const std::string& name) {
    std::string out = "LLMTUNE_";
    for (char c : name) out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

std::string flag_name(const std::string& name) {
    std::string out = "--";
    for (char c : name) out += c == '_' ? '-' : c;
    return out;
}

int64_t parse_int(const std::string& text, int64_t lo, int64_t hi, const std::string& what) {
    size_t used = 0;
    long long v = 0;
    try {
        v = std::stoll(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != text.size())
        throw_invalid(what + ": '" + text + "' is not an integer");
    if (v < lo || v > hi)
        throw_invalid(what + ": " + text + " is out of range (" + std::to_string(lo) + " to " +
                      std::to_string(hi) + ")");
    return v;
}

// A built UI folder (e.g. web/dist): a directory holding index.html; its absolute path.
std::string checked_ui_dir(const std::string& dir, const std::string& what) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
        throw_invalid(what + ": " + dir + " is not a folder",
                      "give the folder the UI was built into, e.g. web/dist after npm run build --prefix web");
    if (!std::filesystem::is_regular_file(std::filesystem::path(dir) / "index.html", ec))
        throw_invalid(what + ": " + dir + " has no index.html",
                      "give the folder the UI was built into, e.g. web/dist after npm run build --prefix web");
    return std::filesystem::absolute(dir).lexically_normal().string();
}

void apply(ServerConfig& c, const std::string& name, const std::string& value,
           const std::string& what) {
    if (name == "host") {
        if (value.empty()) throw_invalid(what + ": the host is empty");
        c.host = value;
    } else if (name == "port") {
        c.port = static_cast<int>(parse_int(value, 0, 65535, what));
    } else if (name == "data_dir") {
        if (value.empty()) throw_invalid(what + ": the data dir is empty");
        c.data_dir = value;
    } else if (name == "models_dir") {
        c.models_dir = value;
    } else if (name == "max_upload_bytes") {
        c.max_upload_bytes = parse_byte_size(value, what);
        if (c.max_upload_bytes == 0) throw_invalid(what + ": the upload limit must be above 0");
    } else if (name == "http_threads") {
        c.http_threads = static_cast<int>(parse_int(value, 1, 4096, what));
    } else if (name == "file_workers") {
        c.file_workers = static_cast<int>(parse_int(value, 1, 64, what));
    } else if (name == "max_concurrent_jobs") {
        c.max_concurrent_jobs = static_cast<int>(parse_int(value, 1, 1024, what));
    } else if (name == "job_retries") {
        c.job_retries = static_cast<int>(parse_int(value, 0, 100, what));
    } else if (name == "worker_threads") {
        c.worker_threads = static_cast<int>(parse_int(value, 0, 4096, what));
    } else if (name == "inference_memory") {
        c.inference_memory = parse_byte_size(value, what);
    } else if (name == "log_level") {
        if (value != "debug" && value != "info" && value != "warn" && value != "error")
            throw_invalid(what + ": '" + value + "' is not one of debug, info, warn, error");
        c.log_level = value;
    } else if (name == "ui_dir") {
        c.ui_dir = value.empty() ? value : checked_ui_dir(value, what);
    } else if (name == "store") {
        if (!value.empty()) cloud::parse_s3_uri(value);  // checks bucket and form
        c.store = value;
    } else if (name == "s3_endpoint") {
        if (!value.empty() && value.rfind("http://", 0) != 0 && value.rfind("https://", 0) != 0)
            throw_invalid(what + ": '" + value + "' is not an http:// or https:// URL");
        c.s3_endpoint = value;
    } else if (name == "s3_region") {
        c.s3_region = value;
    } else if (name == "s3_path_style") {
        if (value == "true" || value == "1" || value == "yes")
            c.s3_path_style = true;
        else if (value == "false" || value == "0" || value == "no")
            c.s3_path_style = false;
        else
            throw_invalid(what + ": '" + value + "' is not true or false");
    } else if (name == "aws_profile") {
        c.aws_profile = value;
    } else {
        LLMTUNE_ASSERT(false, "unknown setting " + name);
    }
}

std::map<std::string, std::string> read_yaml(const std::string& path) {
    YAML::Node root;
    try {
        root = YAML::LoadFile(path);
    } catch (const YAML::BadFile&) {
        throw Error(ErrorKind::not_found, path + ": cannot read the config file",
                    "check the path given to --config or LLMTUNE_CONFIG");
    } catch (const YAML::Exception& e) {
        throw_invalid(path + ": line " + std::to_string(e.mark.line + 1) + ", column " +
                      std::to_string(e.mark.column + 1) + ": " + e.msg);
    }
    std::map<std::string, std::string> out;
    if (root.IsNull()) return out;
    if (!root.IsMap()) throw_invalid(path + ": expected a mapping of settings at the top level");
    for (const auto& kv : root) {
        std::string key = kv.first.as<std::string>();
        bool known = false;
        for (const auto& s : config_settings()) known = known || key == s.name;
        if (!known) {
            std::string names;
            for (const auto& s : config_settings()) names += std::string(names.empty() ? "" : ", ") + s.name;
            throw_invalid(path + ": unknown setting '" + key + "'", "settings: " + names);
        }
        if (!kv.second.IsScalar())
            throw_invalid(path + ": '" + key + "' must be a single value");
        out[key] = kv.second.as<std::string>();
    }
    return out;
}

}  // namespace

const std::vector<ConfigSetting>& config_settings() {
    static const std::vector<ConfigSetting> all = {
        {"host", "address to bind (default 127.0.0.1)"},
        {"port", "TCP port (default 8000; 0 picks a free port)"},
        {"data_dir", "database, blobs and admin.key (default ./llmtune-data)"},
        {"models_dir", "base models, one Hugging Face folder each (default ./models)"},
        {"max_upload_bytes", "largest upload, e.g. 10GB or 512MiB (default 10GB)"},
        {"http_threads", "connections served at once (default 64)"},
        {"file_workers", "threads validating uploads (default 1)"},
        {"max_concurrent_jobs", "fine-tuning jobs trained at once (default 1: one per device)"},
        {"job_retries", "restarts of a crashed training worker before the job fails (default 2)"},
        {"worker_threads", "torch threads per training worker (default 0: one per core)"},
        {"inference_memory", "model weights kept loaded for inference, e.g. 8GiB (default 8GiB)"},
        {"log_level", "debug, info, warn or error (default info)"},
        {"store", "blob store: s3://bucket/prefix for S3 (default: the data dir; docs/storage.md)"},
        {"s3_endpoint", "S3-compatible endpoint URL, e.g. http://127.0.0.1:9000 (default: AWS)"},
        {"s3_region", "the bucket's region (default: AWS_REGION, AWS_DEFAULT_REGION, profile)"},
        {"s3_path_style", "path-style S3 URLs, as MinIO and Ceph need (true/false; default false)"},
        {"aws_profile", "AWS profile of ~/.aws/credentials and ~/.aws/config (default: env keys)"},
        {"ui_dir", "serve the web UI from this folder (e.g. web/dist) instead of the built-in copy"},
    };
    return all;
}

uint64_t parse_byte_size(const std::string& text, const std::string& what) {
    size_t i = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (i == 0) throw_invalid(what + ": '" + text + "' is not a byte size (e.g. 10GB, 512MiB)");
    std::string unit = text.substr(i);
    while (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
    static const std::map<std::string, uint64_t> units = {
        {"", 1},           {"B", 1},
        {"kB", 1000ull},   {"KB", 1000ull},        {"MB", 1000000ull},
        {"GB", 1000000000ull}, {"TB", 1000000000000ull},
        {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}, {"TiB", 1ull << 40},
    };
    auto it = units.find(unit);
    if (it == units.end())
        throw_invalid(what + ": unknown unit '" + unit + "' in '" + text + "'",
                      "use B, kB, MB, GB, TB, KiB, MiB, GiB or TiB");
    uint64_t n = 0;
    try {
        n = std::stoull(text.substr(0, i));
    } catch (const std::exception&) {
        throw_invalid(what + ": '" + text + "' is too large");
    }
    if (n > std::numeric_limits<uint64_t>::max() / it->second)
        throw_invalid(what + ": '" + text + "' is too large");
    return n * it->second;
}

ServerConfig resolve_server_config(const std::map<std::string, std::string>& flags,
                                   const Getenv& getenv) {
    ServerConfig c;
    std::map<std::string, std::string> yaml;
    if (auto f = flags.find("config"); f != flags.end())
        c.config_file = f->second;
    else if (const char* e = getenv("LLMTUNE_CONFIG"); e && *e)
        c.config_file = e;
    if (!c.config_file.empty()) yaml = read_yaml(c.config_file);

    for (const auto& s : config_settings()) {
        std::string name = s.name;
        if (auto f = flags.find(name); f != flags.end()) {
            apply(c, name, f->second, flag_name(name));
        } else if (const char* e = getenv(env_name(name).c_str()); e != nullptr) {
            apply(c, name, e, env_name(name));
        } else if (auto y = yaml.find(name); y != yaml.end()) {
            apply(c, name, y->second, c.config_file + ": " + name);
        }
    }
    return c;
}

}  // namespace llmtune::server
