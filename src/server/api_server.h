// ApiServer: the HTTP front of `llmtune serve` on cpp-httplib. It owns the listening socket,
// the connection thread pool, the routes, request logs (one JSON line per request on stderr)
// and the request metrics.
//
// Threads: bind() and run() are called from one thread; run() blocks while a pool of
// `http_threads` threads serves connections. stop() may be called from any thread (a signal
// thread): it closes the listening socket, lets requests in flight finish, and run() returns.
#pragma once

#include <memory>
#include <string>

#include "server/server_config.h"

namespace httplib {
class Server;
}

namespace llmtune::service {
class Service;
}
namespace llmtune::infer {
class InferenceEngine;
}

namespace llmtune::server {

class HttpMetrics;
class Router;

class ApiServer {
  public:
    // `engine` serves /v1/chat/completions and /v1/completions; without one those routes are
    // not registered (404).
    ApiServer(service::Service& svc, const ServerConfig& config,
              infer::InferenceEngine* engine = nullptr);
    ~ApiServer();

    // Binds host:port; returns the port (the chosen one when port is 0). io error when the
    // address cannot be bound.
    int bind();
    void run();
    void stop();

  private:
    service::Service& svc_;
    ServerConfig config_;
    std::unique_ptr<httplib::Server> http_;
    std::unique_ptr<HttpMetrics> metrics_;
    std::unique_ptr<Router> router_;
    int listen_fd_ = -1;  // the listening socket, once bound
};

}  // namespace llmtune::server
