#include "server/router.h"

#include <chrono>

#include "server/api_error.h"
#include "service/log.h"

namespace llmtune::server {

RequestTrace& current_request_trace() {
    thread_local RequestTrace trace;
    return trace;
}

double steady_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::string route_regex(const std::string& route) {
    std::string out;
    for (size_t i = 0; i < route.size(); ++i) {
        char c = route[i];
        if (c == '{') {
            size_t end = route.find('}', i);
            out += "([^/]+)";
            i = end;
        } else if (c == '.' || c == '+' || c == '(' || c == ')' || c == '[' || c == ']' ||
                   c == '*' || c == '?' || c == '^' || c == '$' || c == '|' || c == '\\') {
            out += '\\';
            out += c;
        } else {
            out += c;
        }
    }
    return out;
}

ordered_json RouteContext::json_body(size_t max_bytes) {
    std::string body;
    bool too_large = false;
    if (reader) {
        body_touched = true;
        bool ok = (*reader)([&](const char* data, size_t n) {
            if (body.size() + n > max_bytes) too_large = true;
            if (!too_large) body.append(data, n);
            return true;  // keep reading: the connection stays usable
        });
        body_consumed = true;
        if (!ok) throw_http(400, "The request body could not be read.");
    }
    if (too_large)
        throw_http(413, "The request body is larger than " + std::to_string(max_bytes) + " bytes.",
                   "", "request_too_large");
    if (body.find_first_not_of(" \t\r\n") == std::string::npos) return ordered_json::object();
    ordered_json j = ordered_json::parse(body, nullptr, false);
    if (j.is_discarded())
        throw_http(400,
                   "We could not parse the JSON body of your request. The API expects a JSON "
                   "payload, but what was sent was not valid JSON.",
                   "", "invalid_json");
    if (!j.is_object()) throw_http(400, "The JSON body must be an object.", "", "invalid_json");
    return j;
}

int64_t RouteContext::limit_query(int64_t dflt, int64_t max) const {
    if (!has_query("limit")) return dflt;
    std::string t = query("limit");
    size_t used = 0;
    long long v = 0;
    try {
        v = std::stoll(t, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != t.size() || v < 1 || v > max)
        throw_http(400,
                   "Invalid 'limit': '" + t + "'. Expected an integer from 1 to " +
                       std::to_string(max) + ".",
                   "limit", "invalid_value");
    return v;
}

void RouteContext::send_json(const ordered_json& body, int status) {
    res.status = status;
    res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                    "application/json");
}

namespace {

// Reads the body to its end and drops it. A multipart body must go through the multipart
// reader (cpp-httplib parses it on the way); a malformed one stops the drain early.
void drain_body(const httplib::Request& req, const httplib::ContentReader& reader,
                RouteContext& ctx) {
    ctx.body_touched = true;
    try {
        bool ok;
        if (req.is_multipart_form_data())
            ok = reader([](const httplib::MultipartFormData&) { return true; },
                        [](const char*, size_t) { return true; });
        else
            ok = reader([](const char*, size_t) { return true; });
        ctx.body_consumed = ok;
    } catch (...) {
        ctx.body_consumed = false;
    }
}

}  // namespace

Router::Router(httplib::Server& http, service::Auth& auth) : http_(http), auth_(auth) {}

void Router::run(const std::string& route, Access access, const RouteHandler& handler,
                 const httplib::Request& req, httplib::Response& res,
                 const httplib::ContentReader* reader) const {
    current_request_trace().route = route;
    RouteContext ctx{req, res, reader, {}, false};
    try {
        if (access == Access::key)
            ctx.principal = auth_.authenticate(req.get_header_value("Authorization"));
        handler(ctx);
    } catch (...) {
        ApiError e = api_error_from(std::current_exception());
        if (e.status >= 500)
            service::log_event(service::LogLevel::error, "request failed",
                               {{"route", route}, {"status", e.status}, {"error", e.message}});
        res.headers.erase("Content-Disposition");
        if (reader && !ctx.body_touched) drain_body(req, *reader, ctx);
        ctx.send_json(api_error_json(e), e.status);
        if (reader && !ctx.body_consumed) res.set_header("Connection", "close");
    }
}

void Router::get(const std::string& route, Access access, RouteHandler handler) {
    http_.Get(route_regex(route), [this, route, access, handler](const httplib::Request& req,
                                                                 httplib::Response& res) {
        run(route, access, handler, req, res, nullptr);
    });
}

void Router::post(const std::string& route, Access access, RouteHandler handler) {
    std::string re = route_regex(route);
    // With a body: the handler reads it through the ContentReader.
    http_.Post(re, [this, route, access, handler](const httplib::Request& req,
                                                  httplib::Response& res,
                                                  const httplib::ContentReader& reader) {
        run(route, access, handler, req, res, &reader);
    });
    // Without a body (no Content-Length, or 0): cpp-httplib dispatches to plain handlers.
    http_.Post(re, [this, route, access, handler](const httplib::Request& req,
                                                  httplib::Response& res) {
        run(route, access, handler, req, res, nullptr);
    });
}

void Router::del(const std::string& route, Access access, RouteHandler handler) {
    http_.Delete(route_regex(route), [this, route, access, handler](const httplib::Request& req,
                                                                    httplib::Response& res) {
        run(route, access, handler, req, res, nullptr);
    });
}

}  // namespace llmtune::server
