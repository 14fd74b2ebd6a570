// Projects and API keys, for the admin key only. The shapes follow OpenAI's organization
// API (organization.project, organization.project.api_key); unlike OpenAI, keys are created
// here, and the new key's value is returned once.
#include "server/api_error.h"
#include "server/router.h"
#include "server/routes.h"
#include "service/ids.h"
#include "service/service.h"
#include "service/service_error.h"

namespace llmtune::server {

namespace {

ordered_json project_json(const service::Project& p) {
    return {{"id", p.id},
            {"object", "organization.project"},
            {"name", p.name},
            {"created_at", p.created_at},
            {"status", "active"}};
}

ordered_json key_json(const service::ApiKeyRecord& k) {
    ordered_json j;
    j["object"] = "organization.project.api_key";
    j["id"] = k.id;
    j["name"] = k.name;
    j["redacted_value"] = k.redacted;
    j["created_at"] = k.created_at;
    j["project_id"] = k.project_id;
    j["llmtune"] = {{"admin", k.admin},
                    {"revoked_at", k.revoked_at ? ordered_json(*k.revoked_at) : ordered_json(nullptr)}};
    return j;
}

std::string string_field(const ordered_json& body, const std::string& name, bool required) {
    if (!body.contains(name)) {
        if (required)
            service::throw_invalid_param(name, "Missing required parameter: '" + name + "'.",
                                         "missing_required_parameter");
        return "";
    }
    if (!body[name].is_string())
        service::throw_invalid_param(name, "Invalid type for '" + name + "': expected a string.",
                                     "invalid_type");
    return body[name].get<std::string>();
}

}  // namespace

void register_admin_routes(Router& router, service::Service& svc) {
    auto& auth = svc.auth();
    auto& store = svc.store();
    router.post("/v1/organization/projects", Access::key, [&auth](RouteContext& ctx) {
        service::require_admin(ctx.principal);
        auto body = ctx.json_body();
        ctx.send_json(project_json(auth.create_project(string_field(body, "name", true))));
    });
    router.get("/v1/organization/projects", Access::key, [&store](RouteContext& ctx) {
        service::require_admin(ctx.principal);
        ordered_json data = ordered_json::array();
        for (const auto& p : store.list_projects()) data.push_back(project_json(p));
        ctx.send_json({{"object", "list"},
                       {"data", data},
                       {"first_id", data.empty() ? ordered_json(nullptr) : data.front()["id"]},
                       {"last_id", data.empty() ? ordered_json(nullptr) : data.back()["id"]},
                       {"has_more", false}});
    });
    router.get("/v1/organization/projects/{project_id}", Access::key, [&store](RouteContext& ctx) {
        service::require_admin(ctx.principal);
        auto p = store.get_project(ctx.param(1));
        if (!p) service::throw_no_such("Project", ctx.param(1), "project_id");
        ctx.send_json(project_json(*p));
    });
    router.post("/v1/organization/projects/{project_id}/api_keys", Access::key,
                [&auth](RouteContext& ctx) {
                    service::require_admin(ctx.principal);
                    auto body = ctx.json_body();
                    std::string name = string_field(body, "name", false);
                    auto created = auth.create_key(ctx.param(1), name);
                    ordered_json j = key_json(created.record);
                    j["value"] = created.key;  // shown this once; only the hash is stored
                    ctx.send_json(j);
                });
    router.get("/v1/organization/projects/{project_id}/api_keys", Access::key,
               [&auth](RouteContext& ctx) {
                   service::require_admin(ctx.principal);
                   ordered_json data = ordered_json::array();
                   for (const auto& k : auth.list_keys(ctx.param(1))) data.push_back(key_json(k));
                   ctx.send_json({{"object", "list"},
                                  {"data", data},
                                  {"first_id", data.empty() ? ordered_json(nullptr) : data.front()["id"]},
                                  {"last_id", data.empty() ? ordered_json(nullptr) : data.back()["id"]},
                                  {"has_more", false}});
               });
    router.del("/v1/organization/projects/{project_id}/api_keys/{key_id}", Access::key,
               [&auth](RouteContext& ctx) {
                   service::require_admin(ctx.principal);
                   auth.revoke_key(ctx.param(1), ctx.param(2));
                   ctx.send_json({{"object", "organization.project.api_key.deleted"},
                                  {"id", ctx.param(2)},
                                  {"deleted", true}});
               });
}

}  // namespace llmtune::server
