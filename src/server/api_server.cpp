#include "server/api_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include "common/error.h"
#include "server/api_error.h"
#include "server/http_metrics.h"
#include "server/router.h"
#include "server/routes.h"
#include "service/log.h"
#include "service/service.h"

namespace llmtune::server {

namespace {

// The body of an error cpp-httplib answered by itself (no route, unreadable request).
ApiError builtin_error(const httplib::Request& req, int status) {
    switch (status) {
        case 404:
            return ApiError{404, "invalid_request_error",
                            "Unknown request URL: " + req.method + " " + req.path + ".", "",
                            "unknown_url"};
        case 413:
            return ApiError{413, "invalid_request_error", "The request body is too large.", "",
                            "request_too_large"};
        case 414:
            return ApiError{414, "invalid_request_error", "The request URL is too long.", "", ""};
        case 416:
            return ApiError{416, "invalid_request_error", "The Range header is invalid.", "", ""};
        default:
            if (status < 500)
                return ApiError{status, "invalid_request_error",
                                "The request is malformed (" + std::to_string(status) + ").", "",
                                "invalid_request"};
            return ApiError{status, "server_error", "The server failed to answer the request.",
                            "", ""};
    }
}

}  // namespace

ApiServer::ApiServer(service::Service& svc, const ServerConfig& config,
                     infer::InferenceEngine* engine)
    : svc_(svc),
      config_(config),
      http_(std::make_unique<httplib::Server>()),
      metrics_(std::make_unique<HttpMetrics>()) {
    // SO_REUSEADDR only: cpp-httplib's default also sets SO_REUSEPORT, which lets a second
    // server bind the same port and silently receive half the connections.
    http_->set_socket_options([this](int sock) {
        int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        listen_fd_ = sock;  // for the backlog, see bind()
    });
    // Responses go out as two writes (headers, body): without TCP_NODELAY, Nagle's algorithm
    // holds the body until the client ACKs the headers, which a delayed ACK postpones ~40 ms.
    http_->set_tcp_nodelay(true);
    // cpp-httplib closes a keep-alive connection after 5 requests by default; reconnecting
    // (and re-queueing the connection on the pool) would then cost more than the requests.
    http_->set_keep_alive_max_count(100000);
    int threads = config_.http_threads;
    http_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    // Uploads may pause longer than the 5 s default between packets.
    http_->set_read_timeout(60);
    http_->set_write_timeout(60);
    // A declared body larger than any upload is refused by cpp-httplib itself (after reading
    // it, so the connection stays in step); 1 MiB covers the multipart framing.
    http_->set_payload_max_length(config_.max_upload_bytes + (1u << 20));

    http_->set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
        auto& t = current_request_trace();
        t.active = true;
        t.route = "unmatched";
        t.start = steady_seconds();
        return httplib::Server::HandlerResponse::Unhandled;
    });
    http_->set_error_handler(httplib::Server::HandlerWithResponse(
        [](const httplib::Request& req, httplib::Response& res) {
            if (!res.body.empty() || res.content_provider_)
                return httplib::Server::HandlerResponse::Unhandled;
            ApiError e = builtin_error(req, res.status);
            res.set_content(api_error_json(e).dump(), "application/json");
            return httplib::Server::HandlerResponse::Handled;
        }));
    // Route handlers catch everything (router.cpp); this is the last line of defence.
    http_->set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
            ApiError e = api_error_from(ep);
            res.status = e.status;
            res.set_content(api_error_json(e).dump(), "application/json");
        });
    http_->set_logger([this](const httplib::Request& req, const httplib::Response& res) {
        auto& t = current_request_trace();
        double seconds = t.active ? steady_seconds() - t.start : 0.0;
        std::string route = t.active ? t.route : "unmatched";
        t.active = false;
        metrics_->observe(route, req.method, res.status, seconds);
        service::log_event(service::LogLevel::info, "request",
                           {{"method", req.method},
                            {"path", req.path},
                            {"route", route},
                            {"status", res.status},
                            {"duration_ms", seconds * 1000.0},
                            {"remote", req.remote_addr}});
    });

    router_ = std::make_unique<Router>(*http_, svc_.auth());
    register_system_routes(*router_, svc_, *metrics_);
    register_file_routes(*router_, svc_, FileRouteOptions{config_.max_upload_bytes});
    register_model_routes(*router_, svc_);
    register_admin_routes(*router_, svc_);
    register_estimate_routes(*router_, svc_);
    register_job_routes(*router_, svc_);
    if (engine) register_inference_routes(*router_, svc_, *engine);
    register_preview_routes(*router_, svc_);
    register_ui_routes(*router_, config_.ui_dir);
}

ApiServer::~ApiServer() = default;

int ApiServer::bind() {
    int port = config_.port;
    bool ok;
    if (port == 0) {
        port = http_->bind_to_any_port(config_.host);
        ok = port > 0;
    } else {
        ok = http_->bind_to_port(config_.host, port);
    }
    if (!ok)
        throw Error(ErrorKind::io,
                    "cannot listen on " + config_.host + ":" + std::to_string(config_.port),
                    "is another server using the port? choose another with --port or LLMTUNE_PORT");
    // cpp-httplib listens with a backlog of 5: when more clients connect at once than the
    // accept thread takes, the kernel drops their SYNs and they retry after 1 s, then 3 s.
    // listen() again on the bound socket raises the backlog to the system's maximum.
    if (listen_fd_ >= 0) ::listen(listen_fd_, SOMAXCONN);
    return port;
}

void ApiServer::run() { http_->listen_after_bind(); }

void ApiServer::stop() { http_->stop(); }

}  // namespace llmtune::server
