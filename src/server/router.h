// Router: registers routes on cpp-httplib with everything each one needs around it.
//
// A route is a template such as "/v1/files/{id}". Its handler gets a RouteContext and may
// throw anything: the router answers with OpenAI's error object and the mapped status
// (api_error.h), so no exception ever leaves a handler. Routes marked `key` authenticate the
// Authorization header first. POST routes receive the body through the context (never
// buffered by cpp-httplib), so each route chooses how to read it: streamed (uploads) or as
// bounded JSON.
//
// When a handler fails before reading the body (a bad key, a wrong content type), the router
// reads and discards the body before answering, so the client can finish sending and the
// connection stays in step. A body abandoned half-way (malformed multipart) cannot be resynced:
// that response carries `Connection: close`.
#pragma once

#include <httplib.h>

#include <functional>
#include <string>

#include "common/json_file.h"
#include "service/auth.h"

namespace llmtune::server {

class HttpMetrics;

struct RouteContext {
    const httplib::Request& req;
    httplib::Response& res;
    const httplib::ContentReader* reader = nullptr;  // POST with a body; null otherwise
    service::Principal principal;                    // set for routes that need a key
    bool body_touched = false;   // set by whoever starts reading the body
    bool body_consumed = false;  // set by whoever reads the body to its end

    // The n-th {param} of the route template (1-based), e.g. the file id.
    std::string param(size_t n) const { return req.matches[n].str(); }
    // A query parameter, or "" when absent.
    std::string query(const std::string& name) const {
        return req.has_param(name.c_str()) ? req.get_param_value(name.c_str()) : "";
    }
    bool has_query(const std::string& name) const { return req.has_param(name.c_str()); }
    // The `limit` query parameter of a list route: `dflt` when absent, else an integer in
    // [1, max]; 400 invalid_value naming `limit` otherwise.
    int64_t limit_query(int64_t dflt, int64_t max) const;

    // Reads the whole body (at most `max_bytes`; beyond that 413 after draining it) and parses
    // it as a JSON object: 400 for invalid JSON or a non-object. An empty body is {}.
    ordered_json json_body(size_t max_bytes = 1 << 20);

    void send_json(const ordered_json& body, int status = 200);
};

using RouteHandler = std::function<void(RouteContext&)>;

enum class Access { open, key };

class Router {
  public:
    Router(httplib::Server& http, service::Auth& auth);

    void get(const std::string& route, Access access, RouteHandler handler);
    void post(const std::string& route, Access access, RouteHandler handler);
    void del(const std::string& route, Access access, RouteHandler handler);

  private:
    void run(const std::string& route, Access access, const RouteHandler& handler,
             const httplib::Request& req, httplib::Response& res,
             const httplib::ContentReader* reader) const;

    httplib::Server& http_;
    service::Auth& auth_;
};

// "/v1/files/{id}" -> "/v1/files/([^/]+)"
std::string route_regex(const std::string& route);

// The route template of the request being handled on this thread ("unmatched" when none);
// the request logger and metrics read it after the response is written.
struct RequestTrace {
    bool active = false;
    std::string route;
    double start = 0;  // steady clock, seconds
};
RequestTrace& current_request_trace();
double steady_seconds();

}  // namespace llmtune::server
