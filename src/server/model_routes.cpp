// GET /v1/models and /v1/models/{id}: the base models of the models dir (OpenAI's model
// object, plus an `llmtune` object describing each).
#include "server/api_error.h"
#include "server/job_json.h"
#include "server/router.h"
#include "server/routes.h"
#include "service/model_catalog.h"
#include "service/service.h"
#include "service/service_error.h"

namespace llmtune::server {

namespace {

ordered_json model_json(const service::BaseModel& m) {
    ordered_json j;
    j["id"] = m.id;
    j["object"] = "model";
    j["created"] = m.created;
    j["owned_by"] = "system";  // as OpenAI labels its base models
    j["llmtune"] = m.llmtune;
    return j;
}

}  // namespace

void register_model_routes(Router& router, service::Service& svc) {
    std::string models_dir = svc.config().models_dir;
    auto& jobs = svc.jobs();
    router.get("/v1/models", Access::key, [models_dir, &jobs](RouteContext& ctx) {
        ordered_json data = ordered_json::array();
        for (const auto& m : service::list_base_models(models_dir)) data.push_back(model_json(m));
        for (const auto& j : jobs.fine_tuned_models(ctx.principal))
            data.push_back(fine_tuned_model_json(j));
        ctx.send_json({{"object", "list"}, {"data", data}});
    });
    router.del("/v1/models/{id}", Access::key, [&jobs](RouteContext& ctx) {
        auto j = jobs.delete_model(ctx.principal, ctx.param(1));
        ctx.send_json({{"id", j.fine_tuned_model}, {"object", "model"}, {"deleted", true}});
    });
    router.get("/v1/models/{id}", Access::key, [models_dir, &jobs](RouteContext& ctx) {
        if (auto j = jobs.find_model(ctx.principal, ctx.param(1)))
            return ctx.send_json(fine_tuned_model_json(*j));
        auto m = service::find_base_model(models_dir, ctx.param(1));
        if (!m)
            throw service::ServiceError(ErrorKind::not_found,
                                        "The model '" + ctx.param(1) + "' does not exist.",
                                        "model", "model_not_found");
        ctx.send_json(model_json(*m));
    });
}

}  // namespace llmtune::server
