// The route groups of the API, each in its own file. They only translate HTTP to service calls
// and service results to OpenAI-shaped JSON.
#pragma once

#include <cstdint>
#include <string>

namespace llmtune::service {
class Service;
}
namespace llmtune::infer {
class InferenceEngine;
}

namespace llmtune::server {

class Router;
class HttpMetrics;

struct FileRouteOptions {
    uint64_t max_upload_bytes = 10ull << 30;
};

// POST/GET /v1/files, GET/DELETE /v1/files/{id}, GET /v1/files/{id}/content
void register_file_routes(Router& router, service::Service& svc, FileRouteOptions options);
// GET /v1/models, GET /v1/models/{id}
void register_model_routes(Router& router, service::Service& svc);
// /v1/fine_tuning/jobs and their events, checkpoints, cancel, pause, resume
void register_job_routes(Router& router, service::Service& svc);
// POST /v1/fine_tuning/jobs/estimate
void register_estimate_routes(Router& router, service::Service& svc);
// POST /v1/chat/completions and /v1/completions
void register_inference_routes(Router& router, service::Service& svc,
                               infer::InferenceEngine& engine);
// /v1/organization/projects and their api_keys (admin key only)
void register_admin_routes(Router& router, service::Service& svc);
// GET /healthz, GET /metrics
void register_system_routes(Router& router, service::Service& svc, const HttpMetrics& metrics);
// GET /v1/files/{id}/preview: the first records as the model's tokens, trained text marked
void register_preview_routes(Router& router, service::Service& svc);
// GET / and the web UI's files: the copy embedded at build time, or the folder `ui_dir` when
// not empty. Register last: it serves single-segment paths no other route took.
void register_ui_routes(Router& router, const std::string& ui_dir);
// The Content-Type the UI routes send for a file name ("x.js" -> text/javascript; ...).
std::string ui_content_type(const std::string& path);

}  // namespace llmtune::server
