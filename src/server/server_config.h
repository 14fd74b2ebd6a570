// The server's configuration: plain values with their defaults, resolved from three sources
// in order of precedence:
//
//   1. command-line flags           --port 9000
//   2. environment variables        LLMTUNE_PORT=9000
//   3. a YAML file (--config FILE or LLMTUNE_CONFIG)   port: 9000
//
// then the default below. Every value is checked where it enters; an error names the source
// (flag, variable or file) and the setting. docs/api.md lists the settings.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace llmtune::server {

struct ServerConfig {
    std::string host = "127.0.0.1";     // address to bind; 0.0.0.0 exposes the server
    int port = 8000;                    // 0 picks a free port (it is logged and printed)
    std::string data_dir = "llmtune-data";  // database, blobs, admin.key
    std::string models_dir = "models";  // base models: one Hugging Face folder each
    uint64_t max_upload_bytes = 10ull << 30;  // largest file accepted by POST /v1/files
    int http_threads = 64;              // connections served at once (keep-alive holds one)
    int file_workers = 1;               // threads validating and converting uploads
    int max_concurrent_jobs = 1;        // training workers at once (one job per device)
    int job_retries = 2;                // restarts of a crashed worker before its job fails
    int worker_threads = 0;             // torch threads per training worker (0 = one per core)
    uint64_t inference_memory = 8ull << 30;  // loaded model weights kept for inference (LRU)
    std::string log_level = "info";     // debug | info | warn | error
    // Blob store (docs/storage.md): "" = <data-dir>/blobs, or s3://bucket/prefix.
    std::string store;
    std::string s3_endpoint;            // "" = AWS; e.g. http://127.0.0.1:9000 for MinIO
    std::string s3_region;              // "" = AWS_REGION / AWS_DEFAULT_REGION / profile
    bool s3_path_style = false;         // <endpoint>/<bucket>/<key> (MinIO, Ceph)
    std::string aws_profile;            // "" = environment keys, then AWS_PROFILE / default
    std::string ui_dir;                 // serve the web UI from this folder ("" = the built-in copy)
    std::string config_file;            // the YAML file used, "" = none
};

// One setting: its YAML key (`max_upload_bytes`), flag (`--max-upload-bytes`) and environment
// variable (`LLMTUNE_MAX_UPLOAD_BYTES`) derive from the name.
struct ConfigSetting {
    const char* name;
    const char* help;
};
const std::vector<ConfigSetting>& config_settings();

using Getenv = std::function<const char*(const char*)>;

// `flags` maps setting names to the text given on the command line (only those given), plus
// "config" for --config. `getenv` is ::getenv outside tests.
ServerConfig resolve_server_config(const std::map<std::string, std::string>& flags,
                                   const Getenv& getenv);

// "10GB", "512MiB", "1048576": a byte count (decimal kB/MB/GB/TB and binary KiB/MiB/GiB/TiB
// units; a bare number is bytes). invalid_input naming `what` otherwise.
uint64_t parse_byte_size(const std::string& text, const std::string& what);

}  // namespace llmtune::server
