// GET /v1/files/{id}/preview?model=ID&limit=N: the first records of a processed file as the
// model's chat template and tokenizer turn them into training tokens, split into trained and
// untrained text (service/file_preview.h).
// GET /v1/files/{id}/token_stats?model=ID&max_seq_len=N: the whole file's token statistics
// with that model, length histogram included.
#include <cerrno>
#include <cstdlib>
#include <memory>

#include "server/api_error.h"
#include "server/router.h"
#include "server/routes.h"
#include "service/file_preview.h"
#include "service/service.h"

namespace llmtune::server {

namespace {

// {role, content} of each message, with the keys a reader needs besides (name, weight,
// tool_calls, tool_call_id) when present. A null content (tool calls only) becomes "".
ordered_json message_list(const ordered_json& messages) {
    ordered_json out = ordered_json::array();
    if (!messages.is_array()) return out;
    for (const auto& m : messages) {
        if (!m.is_object()) continue;
        ordered_json o;
        o["role"] = m.value("role", "");
        o["content"] = m.contains("content") && m["content"].is_string() ? m["content"]
                                                                          : ordered_json("");
        for (const char* k : {"name", "weight", "tool_calls", "tool_call_id"})
            if (m.contains(k)) o[k] = m[k];
        out.push_back(std::move(o));
    }
    return out;
}

ordered_json example_json(const service::PreviewExample& ex) {
    ordered_json j;
    j["line"] = ex.line;
    j["kind"] = ex.kind;
    if (ex.kind == "chat") {
        j["messages"] = message_list(ex.record["messages"]);
    } else if (ex.kind == "text") {
        j["text"] = ex.record.value("text", "");
    } else {
        for (const char* k : {"prompt", "chosen", "rejected"})
            j[k] = message_list(ex.record.contains(k) ? ex.record[k] : ordered_json());
    }
    if (ex.kind != "preference" && ex.error.empty()) {
        ordered_json segs = ordered_json::array();
        for (const auto& s : ex.segments) segs.push_back({{"text", s.text}, {"trained", s.trained}});
        j["segments"] = segs;
        j["tokens"] = ex.tokens;
        j["trained_tokens"] = ex.trained_tokens;
    } else {
        j["segments"] = nullptr;
        j["tokens"] = nullptr;
        j["trained_tokens"] = nullptr;
    }
    j["error"] = ex.error.empty() ? ordered_json(nullptr) : ordered_json{{"message", ex.error}};
    return j;
}

}  // namespace

void register_preview_routes(Router& router, service::Service& svc) {
    auto previewer = std::make_shared<service::FilePreviewer>(svc.files(), svc.jobs(),
                                                              svc.config().models_dir);
    router.get("/v1/files/{id}/preview", Access::key, [previewer](RouteContext& ctx) {
        int64_t limit = ctx.limit_query(5, 50);
        auto p = previewer->preview(ctx.principal, ctx.param(1), ctx.query("model"), limit);
        ordered_json data = ordered_json::array();
        for (const auto& ex : p.examples) data.push_back(example_json(ex));
        ctx.send_json({{"object", "list"}, {"model", p.model}, {"data", data}});
    });
    router.get("/v1/files/{id}/token_stats", Access::key, [previewer](RouteContext& ctx) {
        int64_t max_seq_len = 0;
        const std::string given = ctx.query("max_seq_len");
        if (!given.empty()) {
            char* end = nullptr;
            errno = 0;
            long long v = std::strtoll(given.c_str(), &end, 10);
            if (errno != 0 || *end != '\0' || v < 1 || v > (1 << 20))
                throw_http(400,
                           "Invalid 'max_seq_len': expected a whole number from 1 to 1048576, "
                           "got '" + given + "'.",
                           "max_seq_len", "invalid_value");
            max_seq_len = v;
        }
        auto t = previewer->token_stats(ctx.principal, ctx.param(1), ctx.query("model"),
                                        max_seq_len);
        ctx.send_json({{"object", "file.token_stats"},
                       {"file", ctx.param(1)},
                       {"model", t.model},
                       {"max_seq_len", max_seq_len > 0 ? ordered_json(max_seq_len) : ordered_json()},
                       {"tokens", t.tokens}});
    });
}

}  // namespace llmtune::server
