// llmtune serve: the OpenAI-compatible API server (src/server over src/service).
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <thread>

#include "cli/cli_common.h"
#include "infer/inference_engine.h"
#include "server/api_server.h"
#include "server/server_config.h"
#include "server/ui/ui_assets.h"
#include "service/log.h"
#include "service/service.h"

namespace llmtune::cli {

namespace {

service::LogLevel log_level_from(const std::string& name) {
    if (name == "debug") return service::LogLevel::debug;
    if (name == "warn") return service::LogLevel::warn;
    if (name == "error") return service::LogLevel::error;
    return service::LogLevel::info;
}

void serve(const std::map<std::string, std::string>& flags) {
    server::ServerConfig cfg = server::resolve_server_config(flags, ::getenv);
    service::set_log_level(log_level_from(cfg.log_level));

    // SIGINT/SIGTERM are taken by one thread with sigwait; every other thread inherits the
    // blocked mask, so no handler runs in the middle of a request.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    service::ServiceConfig scfg;
    scfg.data_dir = cfg.data_dir;
    scfg.models_dir = cfg.models_dir;
    scfg.file_workers = static_cast<size_t>(cfg.file_workers);
    scfg.max_concurrent_jobs = cfg.max_concurrent_jobs;
    scfg.max_job_retries = cfg.job_retries;
    scfg.worker_threads = cfg.worker_threads;
    scfg.store.store = cfg.store;
    scfg.store.s3_endpoint = cfg.s3_endpoint;
    scfg.store.s3_region = cfg.s3_region;
    scfg.store.s3_path_style = cfg.s3_path_style;
    scfg.store.aws_profile = cfg.aws_profile;
    service::Service svc(scfg);
    // Inference runs in this process (models in an LRU cache); training runs in workers.
    infer::EngineOptions eo;
    eo.memory_budget_bytes = cfg.inference_memory;
    auto engine = infer::make_local_engine(eo);
    server::ApiServer api(svc, cfg, engine.get());
    int port = api.bind();

    std::string url = "http://" + cfg.host + ":" + std::to_string(port);
    const auto& admin = svc.admin_key();
    std::printf("llmtune serve: listening on %s\n", url.c_str());
    std::printf("  API base URL: %s/v1   (OpenAI SDKs: base_url=%s/v1)\n", url.c_str(), url.c_str());
    // The UI's address carries the key only when it was just created, so it is shown once; the
    // UI stores it and removes it from the address bar. 0.0.0.0 is no address for a browser.
    std::string ui_host = cfg.host == "0.0.0.0" || cfg.host == "::" ? "127.0.0.1" : cfg.host;
    std::string ui_url = "http://" + ui_host + ":" + std::to_string(port) + "/";
    if (cfg.ui_dir.empty() && server::embedded_ui_assets().count == 0)
        std::printf("  UI: not in this build (configured with -DLLMTUNE_UI=OFF); --ui-dir serves "
                    "a built one\n");
    else if (admin.created)
        std::printf("  UI: %s#key=%s\n", ui_url.c_str(), admin.key.c_str());
    else
        std::printf("  UI: %s   (sign in with the key in %s)\n", ui_url.c_str(),
                    admin.key_path.c_str());
    if (!cfg.ui_dir.empty()) std::printf("  UI files: %s (--ui-dir)\n", cfg.ui_dir.c_str());
    std::printf("  data dir: %s\n  models dir: %s\n", svc.config().data_dir.c_str(),
                cfg.models_dir.c_str());
    std::printf("  blob store: %s\n", svc.blobs().location().c_str());
    if (admin.created)
        std::printf("  admin key (created now, saved in %s): %s\n", admin.key_path.c_str(),
                    admin.key.c_str());
    else
        std::printf("  admin key: in %s\n", admin.key_path.c_str());
    std::fflush(stdout);
    service::log_event(service::LogLevel::info, "listening",
                       {{"host", cfg.host},
                        {"port", port},
                        {"data_dir", svc.config().data_dir},
                        {"models_dir", cfg.models_dir},
                        {"max_upload_bytes", cfg.max_upload_bytes},
                        {"config_file", cfg.config_file}});

    std::thread signal_thread([&api, signals] {
        int sig = 0;
        sigwait(&signals, &sig);
        service::log_event(service::LogLevel::info, "shutting down",
                           {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
        api.stop();
    });
    api.run();
    // run() also returns when listening fails; wake the signal thread so it can be joined.
    pthread_kill(signal_thread.native_handle(), SIGTERM);
    signal_thread.join();
    svc.shutdown();
    service::log_event(service::LogLevel::info, "stopped");
}

}  // namespace

void register_serve(CLI::App& app) {
    auto flags = std::make_shared<std::map<std::string, std::string>>();
    auto* cmd = app.add_subcommand(
        "serve",
        "Run the OpenAI-compatible API server (settings: flags > LLMTUNE_* environment > "
        "--config YAML > defaults; see docs/api.md)");
    auto text_option = [&](const std::string& name, const std::string& help) {
        std::string flag = "--";
        for (char c : name) flag += c == '_' ? '-' : c;
        cmd->add_option_function<std::string>(
            flag, [flags, name](const std::string& v) { (*flags)[name] = v; }, help);
    };
    text_option("config", "a YAML file of settings (also LLMTUNE_CONFIG)");
    for (const auto& s : server::config_settings()) {
        if (std::string(s.name) == "s3_path_style") continue;
        text_option(s.name, s.help);
    }
    // A bare flag (LLMTUNE_S3_PATH_STYLE and the YAML key take true/false).
    cmd->add_flag_callback(
        "--s3-path-style", [flags] { (*flags)["s3_path_style"] = "true"; },
        "path-style S3 URLs (<endpoint>/<bucket>/<key>), as MinIO and Ceph need");
    cmd->callback([flags] { serve(*flags); });
}

}  // namespace llmtune::cli
