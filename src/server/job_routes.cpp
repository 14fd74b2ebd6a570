// The fine-tuning jobs API (OpenAI shapes): create, list, retrieve, cancel, pause, resume,
// events (paginated, or as a server-sent event stream with ?stream=true) and checkpoints.
#include <chrono>
#include <thread>

#include "server/api_error.h"
#include "server/job_json.h"
#include "server/router.h"
#include "server/routes.h"
#include "service/service.h"

namespace llmtune::server {

namespace {

using service::JobRecord;


template <typename T, typename F>
ordered_json list_json(const service::Page<T>& page, F to_json) {
    ordered_json data = ordered_json::array();
    for (const auto& x : page.items) data.push_back(to_json(x));
    ordered_json out;
    out["object"] = "list";
    out["data"] = data;
    out["first_id"] = page.items.empty() ? ordered_json(nullptr) : ordered_json(page.items.front().id);
    out["last_id"] = page.items.empty() ? ordered_json(nullptr) : ordered_json(page.items.back().id);
    out["has_more"] = page.has_more;
    return out;
}

// list_json(page, job_json) as text, from the rendered jobs (job_json_text).
std::string job_list_text(const service::Page<JobRecord>& page) {
    std::string out = "{\"object\":\"list\",\"data\":[";
    for (size_t i = 0; i < page.items.size(); ++i) {
        if (i) out += ',';
        out += job_json_text(page.items[i]);
    }
    auto id = [&](const JobRecord* j) {
        return j ? ordered_json(j->id).dump() : std::string("null");
    };
    out += "],\"first_id\":" + id(page.items.empty() ? nullptr : &page.items.front());
    out += ",\"last_id\":" + id(page.items.empty() ? nullptr : &page.items.back());
    out += std::string(",\"has_more\":") + (page.has_more ? "true" : "false") + "}";
    return out;
}

void send_text(RouteContext& ctx, const std::string& json_text) {
    ctx.res.status = 200;
    ctx.res.set_content(json_text, "application/json");
}

// metadata[key]=value query parameters (OpenAI's list filter).
std::vector<std::pair<std::string, std::string>> metadata_filter(const RouteContext& ctx) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [name, value] : ctx.req.params) {
        if (name.rfind("metadata[", 0) == 0 && name.size() > 10 && name.back() == ']')
            out.emplace_back(name.substr(9, name.size() - 10), value);
        else if (name.rfind("metadata", 0) == 0)
            throw_http(400, "Invalid metadata filter '" + name + "': use metadata[key]=value.",
                       "metadata", "invalid_value");
    }
    return out;
}

bool settled(const std::string& status) {
    return status == service::kJobSucceeded || status == service::kJobFailed ||
           status == service::kJobCancelled || status == service::kJobPaused;
}

// Server-sent events: each job event (oldest first) as `data: {...}`, until the job has
// settled (succeeded, failed, cancelled or paused) and every event was sent; then
// `data: [DONE]`. The stream polls the database every 200 ms.
void stream_events(RouteContext& ctx, service::JobService& jobs) {
    service::Principal who = ctx.principal;
    std::string id = ctx.param(1);
    jobs.get(who, id);  // 404 before the stream starts
    ctx.res.set_header("Cache-Control", "no-cache");
    ctx.res.set_chunked_content_provider(
        "text/event-stream", [&jobs, who, id, last = int64_t{0}](size_t, httplib::DataSink& sink) mutable {
            try {
                while (true) {
                    // Read the status before the events, so the events of the final status are
                    // included in this round.
                    bool done = settled(jobs.get(who, id).status);
                    for (const auto& e : jobs.events_since(who, id, last)) {
                        std::string chunk = "data: " + job_event_json(e).dump() + "\n\n";
                        if (!sink.write(chunk.data(), chunk.size())) return false;
                        last = e.seq;
                    }
                    if (done) {
                        static const std::string end = "data: [DONE]\n\n";
                        sink.write(end.data(), end.size());
                        sink.done();
                        return true;
                    }
                    if (!sink.is_writable()) return false;
                    std::this_thread::sleep_for(std::chrono::milliseconds(200));
                }
            } catch (const std::exception&) {
                return false;  // the job vanished or the store failed: end the stream
            }
        });
}

}  // namespace

void register_job_routes(Router& router, service::Service& svc) {
    auto& jobs = svc.jobs();
    router.post("/v1/fine_tuning/jobs", Access::key, [&jobs](RouteContext& ctx) {
        ordered_json body = ctx.json_body();
        ctx.send_json(job_json(jobs.create(ctx.principal, body)));
    });
    router.get("/v1/fine_tuning/jobs", Access::key, [&jobs](RouteContext& ctx) {
        service::JobListQuery q;
        q.limit = ctx.limit_query(20, 100);
        q.after = ctx.query("after");
        q.metadata = metadata_filter(ctx);
        send_text(ctx, job_list_text(jobs.list(ctx.principal, q)));
    });
    router.get("/v1/fine_tuning/jobs/{id}", Access::key, [&jobs](RouteContext& ctx) {
        send_text(ctx, job_json_text(jobs.get(ctx.principal, ctx.param(1))));
    });
    router.post("/v1/fine_tuning/jobs/{id}/cancel", Access::key, [&jobs](RouteContext& ctx) {
        ctx.json_body();
        ctx.send_json(job_json(jobs.cancel(ctx.principal, ctx.param(1))));
    });
    router.post("/v1/fine_tuning/jobs/{id}/pause", Access::key, [&jobs](RouteContext& ctx) {
        ctx.json_body();
        ctx.send_json(job_json(jobs.pause(ctx.principal, ctx.param(1))));
    });
    router.post("/v1/fine_tuning/jobs/{id}/resume", Access::key, [&jobs](RouteContext& ctx) {
        ctx.json_body();
        ctx.send_json(job_json(jobs.resume(ctx.principal, ctx.param(1))));
    });
    router.get("/v1/fine_tuning/jobs/{id}/events", Access::key, [&jobs](RouteContext& ctx) {
        std::string stream = ctx.query("stream");
        if (stream == "true") return stream_events(ctx, jobs);
        if (!stream.empty() && stream != "false")
            throw_http(400, "Invalid 'stream': expected true or false.", "stream", "invalid_value");
        auto page = jobs.events(ctx.principal, ctx.param(1), ctx.query("after"),
                                ctx.limit_query(20, 1000));
        ctx.send_json(list_json(page, job_event_json));
    });
    router.get("/v1/fine_tuning/jobs/{id}/checkpoints", Access::key, [&jobs](RouteContext& ctx) {
        auto page = jobs.checkpoints(ctx.principal, ctx.param(1), ctx.query("after"),
                                     ctx.limit_query(10, 100));
        ctx.send_json(list_json(page, job_checkpoint_json));
    });
}

}  // namespace llmtune::server
