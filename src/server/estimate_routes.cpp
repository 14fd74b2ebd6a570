// POST /v1/fine_tuning/jobs/estimate: the create-job body, checked exactly as create checks it,
// answered with the estimate (service/job_estimate.h) instead of a job. Nothing is stored.
#include "server/router.h"
#include "server/routes.h"
#include "service/service.h"

namespace llmtune::server {

void register_estimate_routes(Router& router, service::Service& svc) {
    router.post("/v1/fine_tuning/jobs/estimate", Access::key, [&svc](RouteContext& ctx) {
        ordered_json body = ctx.json_body();
        std::string hardware;
        service::JobRecord job = svc.jobs().prepare(ctx.principal, body, &hardware);
        ordered_json e = svc.estimator().estimate(job, hardware);
        ordered_json out;
        out["object"] = "fine_tuning.job.estimate";
        out["model"] = job.model;
        out["training_file"] = job.training_file;
        out["validation_file"] =
            job.validation_file.empty() ? ordered_json(nullptr) : ordered_json(job.validation_file);
        for (auto it = e.begin(); it != e.end(); ++it) out[it.key()] = it.value();
        ctx.send_json(out);
    });
}

}  // namespace llmtune::server
