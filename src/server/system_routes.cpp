// GET /healthz (liveness and the database) and GET /metrics (Prometheus text), both without a key.
#include <unistd.h>

#include "server/http_metrics.h"
#include "server/router.h"
#include "server/routes.h"
#include "service/ids.h"
#include "service/service.h"

namespace llmtune::server {

void register_system_routes(Router& router, service::Service& svc, const HttpMetrics& metrics) {
    int64_t started = service::unix_now();
    router.get("/healthz", Access::open, [&svc, started](RouteContext& ctx) {
        int version = svc.store().schema_version();
        ctx.send_json({{"status", "ok"},
                       {"schema_version", version},
                       {"started_at", started},
                       {"pid", static_cast<int64_t>(::getpid())}});
    });
    router.get("/metrics", Access::open, [&svc, &metrics, started](RouteContext& ctx) {
        std::string out;
        metrics.render(out);
        out += "# HELP llmtune_background_tasks Background tasks (file processing) queued or running.\n";
        out += "# TYPE llmtune_background_tasks gauge\n";
        out += "llmtune_background_tasks{state=\"queued\"} " + std::to_string(svc.queue().pending()) + "\n";
        out += "llmtune_background_tasks{state=\"running\"} " + std::to_string(svc.queue().running()) + "\n";
        out += "# HELP llmtune_start_time_seconds When this server started, Unix seconds.\n";
        out += "# TYPE llmtune_start_time_seconds gauge\n";
        out += "llmtune_start_time_seconds " + std::to_string(started) + "\n";
        ctx.res.set_content(out, "text/plain; version=0.0.4; charset=utf-8");
    });
}

}  // namespace llmtune::server
