// GET /v1/models and /v1/models/{id}: the base models of the models dir, the project's
// fine-tuned models (with their lineage) and their checkpoints (OpenAI's model object, plus an
// `llmtune` object describing each); DELETE /v1/models/{id}; POST /v1/models/{id}/export and
// GET /v1/models/{id}/export/{format} (service/model_export.h).
#include <algorithm>
#include <filesystem>

#include "server/api_error.h"
#include "server/job_json.h"
#include "server/router.h"
#include "server/routes.h"
#include "service/checkpoint_models.h"
#include "service/model_catalog.h"
#include "service/service.h"
#include "service/service_error.h"

namespace fs = std::filesystem;

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

// Where a fine-tuned model comes from and what it produced: the job's inputs, the resolved
// hyperparameters, the final metrics (the trainer's manifest.json) and the artifacts.
ordered_json lineage_json(service::Service& svc, const service::JobRecord& j) {
    const std::string job_dir = svc.scheduler().job_dir(j.id);
    const std::string out = svc.jobs().output_dir(j);
    ordered_json manifest = nullptr;
    std::error_code ec;
    if (fs::exists(out + "/manifest.json", ec)) {
        try {
            manifest = read_ordered_json_file(out + "/manifest.json");
        } catch (const Error&) {
            manifest = nullptr;
        }
    }
    ordered_json job = job_json(j);
    ordered_json lineage;
    lineage["base"] = {{"model", j.model},
                       {"path", manifest.is_object() && manifest.contains("base_model")
                                    ? manifest["base_model"].value("path", ordered_json(nullptr))
                                    : ordered_json(nullptr)},
                       {"sha256", manifest.is_object() && manifest.contains("base_model")
                                      ? manifest["base_model"].value("sha256", ordered_json(nullptr))
                                      : ordered_json(nullptr)}};
    lineage["job"] = j.id;
    lineage["training_file"] = j.training_file;
    lineage["validation_file"] = j.validation_file.empty() ? ordered_json(nullptr)
                                                           : ordered_json(j.validation_file);
    lineage["hyperparameters"] = {{"method", job["method"]}, {"llmtune", job["llmtune"]}};
    lineage["final_metrics"] = manifest.is_object() ? manifest.value("final_metrics", ordered_json(nullptr))
                                                    : ordered_json(nullptr);
    lineage["training"] = manifest.is_object() ? manifest.value("training", ordered_json(nullptr))
                                               : ordered_json(nullptr);
    ordered_json artifacts;
    artifacts["kind"] = service::JobService::method_of(j) == "full" ? "model" : "peft_adapter";
    ordered_json files = ordered_json::array();
    for (const auto& e : fs::directory_iterator(out, ec))
        if (e.is_regular_file(ec)) files.push_back(e.path().filename().string());
    std::sort(files.begin(), files.end());
    artifacts["files"] = files;
    artifacts["result_files"] = job["result_files"];
    ordered_json exports = ordered_json::object();
    for (const char* format : {"hf", "gguf"}) {
        try {
            auto s = svc.exporter().get(j, format, job_dir);
            exports[format] = {{"status", s["status"]}, {"file_id", s["file_id"]}};
        } catch (const std::exception&) {
            // not requested
        }
    }
    artifacts["exports"] = exports;
    lineage["artifacts"] = artifacts;
    lineage["manifest"] = manifest.is_object() ? ordered_json("manifest.json") : ordered_json(nullptr);
    return lineage;
}

service::JobRecord fine_tuned_job(service::Service& svc, const RouteContext& ctx) {
    if (auto j = svc.jobs().find_model(ctx.principal, ctx.param(1))) return *j;
    throw service::ServiceError(ErrorKind::not_found,
                                "The model '" + ctx.param(1) +
                                    "' does not exist or is not a fine-tuned model of this "
                                    "project (only fine-tuned models export).",
                                "model", "model_not_found");
}

std::string export_format(const std::string& format) {
    if (format != "hf" && format != "gguf")
        service::throw_invalid_param("format",
                                     "Invalid 'format': expected 'hf' (a merged Hugging Face "
                                     "model) or 'gguf'.",
                                     format.empty() ? "missing_required_parameter" : "invalid_value");
    return format;
}

}  // namespace

void register_model_routes(Router& router, service::Service& svc) {
    std::string models_dir = svc.config().models_dir;
    auto& jobs = svc.jobs();
    router.get("/v1/models", Access::key, [models_dir, &jobs, &svc](RouteContext& ctx) {
        ordered_json data = ordered_json::array();
        for (const auto& m : service::list_base_models(models_dir)) data.push_back(model_json(m));
        for (const auto& j : jobs.fine_tuned_models(ctx.principal))
            data.push_back(fine_tuned_model_json(j));
        for (const auto& c : service::list_checkpoint_models(svc.store(), ctx.principal.project_id))
            data.push_back(service::checkpoint_model_json(c));
        ctx.send_json({{"object", "list"}, {"data", data}});
    });
    router.del("/v1/models/{id}", Access::key, [&jobs](RouteContext& ctx) {
        auto j = jobs.delete_model(ctx.principal, ctx.param(1));
        ctx.send_json({{"id", j.fine_tuned_model}, {"object", "model"}, {"deleted", true}});
    });
    router.get("/v1/models/{id}", Access::key, [models_dir, &jobs, &svc](RouteContext& ctx) {
        if (auto j = jobs.find_model(ctx.principal, ctx.param(1))) {
            ordered_json m = fine_tuned_model_json(*j);
            m["llmtune"]["lineage"] = lineage_json(svc, *j);
            return ctx.send_json(m);
        }
        if (auto c = service::find_checkpoint_model(svc.store(), ctx.principal.project_id,
                                                    ctx.param(1)))
            return ctx.send_json(service::checkpoint_model_json(*c));
        auto m = service::find_base_model(models_dir, ctx.param(1));
        if (!m)
            throw service::ServiceError(ErrorKind::not_found,
                                        "The model '" + ctx.param(1) + "' does not exist.",
                                        "model", "model_not_found");
        ctx.send_json(model_json(*m));
    });
    router.post("/v1/models/{id}/export", Access::key, [models_dir, &svc](RouteContext& ctx) {
        ordered_json body = ctx.json_body();
        service::JobRecord j = fine_tuned_job(svc, ctx);
        for (auto it = body.begin(); it != body.end(); ++it)
            if (it.key() != "format")
                service::throw_invalid_param(it.key(), "Unknown parameter: '" + it.key() + "'.",
                                             "unknown_parameter");
        if (body.contains("format") && !body["format"].is_string())
            service::throw_invalid_param("format", "Invalid 'format': expected a string.",
                                         "invalid_type");
        const std::string format = export_format(body.value("format", ""));
        std::string base_dir;
        if (service::JobService::method_of(j) == "lora") {
            auto base = service::find_base_model(models_dir, j.model);
            if (!base)
                throw service::ServiceError(ErrorKind::not_found,
                                            "The base model '" + j.model + "' of '" + ctx.param(1) +
                                                "' is no longer in the models dir.",
                                            "model", "model_not_found");
            base_dir = base->path;
        }
        ctx.send_json(svc.exporter().start(j, format, base_dir, svc.scheduler().job_dir(j.id)));
    });
    router.get("/v1/models/{id}/export/{format}", Access::key, [&svc](RouteContext& ctx) {
        service::JobRecord j = fine_tuned_job(svc, ctx);
        ctx.send_json(svc.exporter().get(j, export_format(ctx.param(2)),
                                         svc.scheduler().job_dir(j.id)));
    });
}

}  // namespace llmtune::server
