// POST /v1/chat/completions and /v1/completions (OpenAI shapes), streaming as server-sent
// events (chunks ending with `data: [DONE]`) or not, for base models and fine-tuned models
// (a LoRA adapter applied without merging, or a fully fine-tuned model directory) and their
// checkpoints (service/checkpoint_models.h).
#include "common/error.h"
#include "infer/inference_engine.h"
#include "server/api_error.h"
#include "server/router.h"
#include "server/routes.h"
#include "service/checkpoint_models.h"
#include "service/ids.h"
#include "service/model_catalog.h"
#include "service/service.h"
#include "service/service_error.h"

namespace llmtune::server {

namespace {

using service::throw_invalid_param;

infer::ModelRef resolve_model(service::Service& svc, const service::Principal& who,
                              const std::string& id) {
    if (auto job = svc.jobs().find_model(who, id)) {
        auto base = service::find_base_model(svc.config().models_dir, job->model);
        std::string out = svc.jobs().output_dir(*job);
        if (service::JobService::method_of(*job) == "full") return {out, ""};
        if (!base)
            throw service::ServiceError(ErrorKind::not_found,
                                        "The base model '" + job->model + "' of '" + id +
                                            "' is no longer in the models dir.",
                                        "model", "model_not_found");
        return {base->path, out};
    }
    if (auto c = service::find_checkpoint_model(svc.store(), who.project_id, id)) {
        auto base = service::find_base_model(svc.config().models_dir, c->job.model);
        if (!base)
            throw service::ServiceError(ErrorKind::not_found,
                                        "The base model '" + c->job.model + "' of '" + id +
                                            "' is no longer in the models dir.",
                                        "model", "model_not_found");
        auto files = service::checkpoint_files(*c, base->path, svc.scheduler().job_dir(c->job.id));
        return {files.model_dir, files.adapter_dir};
    }
    if (auto base = service::find_base_model(svc.config().models_dir, id)) return {base->path, ""};
    throw service::ServiceError(ErrorKind::not_found,
                                "The model '" + id + "' does not exist or you do not have access "
                                "to it.",
                                "model", "model_not_found");
}

struct Request {
    std::string model;
    infer::CompletionParams params;
    bool max_tokens_given = false;
    bool stream = false;
    bool include_usage = false;
};

double number_in(const ordered_json& body, const char* key, double lo, double hi, double dflt) {
    if (!body.contains(key) || body[key].is_null()) return dflt;
    if (!body[key].is_number() || body[key].get<double>() < lo || body[key].get<double>() > hi)
        throw_invalid_param(key, std::string("Invalid value for '") + key + "': expected a number from " +
                                     std::to_string(lo) + " to " + std::to_string(hi) + ".");
    return body[key].get<double>();
}

Request common_request(const ordered_json& body) {
    Request r;
    if (!body.contains("model") || !body["model"].is_string())
        throw_invalid_param("model", "Missing required parameter: 'model'.", "missing_required_parameter");
    r.model = body["model"].get<std::string>();
    r.params.temperature = number_in(body, "temperature", 0, 2, 1.0);
    r.params.top_p = number_in(body, "top_p", 0, 1, 1.0);
    if (body.contains("top_p") && r.params.top_p <= 0)
        throw_invalid_param("top_p", "Invalid value for 'top_p': must be > 0.");
    for (const char* key : {"max_completion_tokens", "max_tokens"}) {
        if (!body.contains(key) || body[key].is_null()) continue;
        if (!body[key].is_number_integer() || body[key].get<int64_t>() < 1)
            throw_invalid_param(key, std::string("Invalid value for '") + key + "': expected an integer >= 1.");
        if (!r.max_tokens_given) r.params.max_tokens = body[key].get<int64_t>();
        r.max_tokens_given = true;
    }
    if (body.contains("seed") && !body["seed"].is_null()) {
        if (!body["seed"].is_number_integer())
            throw_invalid_param("seed", "Invalid value for 'seed': expected an integer.");
        r.params.seed = static_cast<uint64_t>(body["seed"].get<int64_t>());
    } else {
        r.params.seed = std::hash<std::string>{}(service::new_id("", 16));
    }
    if (body.contains("stop") && !body["stop"].is_null()) {
        const auto& s = body["stop"];
        if (s.is_string()) {
            r.params.stop.push_back(s.get<std::string>());
        } else if (s.is_array() && s.size() <= 4) {
            for (const auto& x : s) {
                if (!x.is_string()) throw_invalid_param("stop", "Invalid 'stop': strings only.");
                r.params.stop.push_back(x.get<std::string>());
            }
        } else {
            throw_invalid_param("stop", "Invalid 'stop': a string or a list of up to 4 strings.");
        }
        for (const auto& x : r.params.stop)
            if (x.empty()) throw_invalid_param("stop", "Invalid 'stop': empty string.");
    }
    if (body.contains("n") && !body["n"].is_null() && body["n"] != 1)
        throw_invalid_param("n", "Only n = 1 is supported.");
    if (body.contains("stream") && !body["stream"].is_null()) {
        if (!body["stream"].is_boolean()) throw_invalid_param("stream", "Invalid 'stream': a boolean.");
        r.stream = body["stream"].get<bool>();
    }
    if (body.contains("stream_options") && body["stream_options"].is_object())
        r.include_usage = body["stream_options"].value("include_usage", false);
    return r;
}

ordered_json usage_json(const infer::CompletionResult& c) {
    return {{"prompt_tokens", c.prompt_tokens},
            {"completion_tokens", c.completion_tokens},
            {"total_tokens", c.prompt_tokens + c.completion_tokens}};
}

void handle(RouteContext& ctx, service::Service& svc, infer::InferenceEngine& engine, bool chat) {
    ordered_json body = ctx.json_body(16 << 20);
    Request r = common_request(body);
    infer::ModelRef ref = resolve_model(svc, ctx.principal, r.model);
    std::vector<int64_t> prompt;
    if (chat) {
        if (!body.contains("messages") || !body["messages"].is_array() || body["messages"].empty())
            throw_invalid_param("messages", "Missing required parameter: 'messages' (a non-empty list).",
                                "missing_required_parameter");
        for (const auto& m : body["messages"])
            if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
                throw_invalid_param("messages", "Invalid 'messages': each message needs a 'role'.");
        prompt = engine.encode_chat(ref, body["messages"]);
    } else {
        if (!body.contains("prompt") || !body["prompt"].is_string())
            throw_invalid_param("prompt", "Invalid 'prompt': a string is required (token lists and "
                                          "batches are not supported).");
        prompt = engine.encode_text(ref, body["prompt"].get<std::string>());
    }
    int64_t ctx_len = engine.context_length(ref);
    int64_t room = ctx_len - static_cast<int64_t>(prompt.size());
    if (room < 1)
        throw_invalid_param(chat ? "messages" : "prompt",
                            "The prompt has " + std::to_string(prompt.size()) +
                                " tokens; this model's maximum context length is " +
                                std::to_string(ctx_len) + " tokens.",
                            "context_length_exceeded");
    if (!r.max_tokens_given) r.params.max_tokens = std::min<int64_t>(room, 4096);
    r.params.max_tokens = std::min(r.params.max_tokens, room);

    const std::string id = (chat ? "chatcmpl-" : "cmpl-") + service::new_id("", 24);
    const int64_t created = service::unix_now();
    const std::string object = chat ? "chat.completion" : "text_completion";

    if (!r.stream) {
        auto c = engine.generate(ref, prompt, r.params);
        ordered_json choice;
        choice["index"] = 0;
        if (chat)
            choice["message"] = {{"role", "assistant"}, {"content", c.text}, {"refusal", nullptr}};
        else
            choice["text"] = c.text;
        choice["logprobs"] = nullptr;
        choice["finish_reason"] = c.finish_reason;
        ctx.send_json({{"id", id},
                       {"object", object},
                       {"created", created},
                       {"model", r.model},
                       {"choices", ordered_json::array({choice})},
                       {"usage", usage_json(c)},
                       {"system_fingerprint", nullptr}});
        return;
    }
    const std::string chunk_object = chat ? "chat.completion.chunk" : "text_completion";
    ctx.res.set_header("Cache-Control", "no-cache");
    ctx.res.set_chunked_content_provider(
        "text/event-stream",
        [&engine, ref, prompt, r, id, created, chat, chunk_object](size_t, httplib::DataSink& sink) {
            auto chunk = [&](ordered_json choice_fields, const ordered_json& finish) {
                ordered_json choice;
                choice["index"] = 0;
                for (auto it = choice_fields.begin(); it != choice_fields.end(); ++it)
                    choice[it.key()] = it.value();
                choice["logprobs"] = nullptr;
                choice["finish_reason"] = finish;
                ordered_json c = {{"id", id},
                                  {"object", chunk_object},
                                  {"created", created},
                                  {"model", r.model},
                                  {"system_fingerprint", nullptr},
                                  {"choices", ordered_json::array({choice})}};
                if (r.include_usage) c["usage"] = nullptr;
                std::string s = "data: " + c.dump() + "\n\n";
                return sink.write(s.data(), s.size());
            };
            try {
                if (chat && !chunk({{"delta", {{"role", "assistant"}, {"content", ""}}}}, nullptr))
                    return false;
                auto result = engine.generate(ref, prompt, r.params, [&](const std::string& text) {
                    return chat ? chunk({{"delta", {{"content", text}}}}, nullptr)
                                : chunk({{"text", text}}, nullptr);
                });
                if (result.finish_reason == "cancelled") return false;  // the client left
                bool ok = chat ? chunk({{"delta", ordered_json::object()}}, result.finish_reason)
                               : chunk({{"text", ""}}, result.finish_reason);
                if (!ok) return false;
                if (r.include_usage) {
                    ordered_json u = {{"id", id},
                                      {"object", chunk_object},
                                      {"created", created},
                                      {"model", r.model},
                                      {"system_fingerprint", nullptr},
                                      {"choices", ordered_json::array()},
                                      {"usage", usage_json(result)}};
                    std::string s = "data: " + u.dump() + "\n\n";
                    if (!sink.write(s.data(), s.size())) return false;
                }
            } catch (...) {
                // Headers are gone: report the error as an event (OpenAI's streams do the same).
                ApiError e = api_error_from(std::current_exception());
                std::string s = "data: " + api_error_json(e).dump() + "\n\n";
                sink.write(s.data(), s.size());
            }
            static const std::string done = "data: [DONE]\n\n";
            sink.write(done.data(), done.size());
            sink.done();
            return true;
        });
}

}  // namespace

void register_inference_routes(Router& router, service::Service& svc,
                               infer::InferenceEngine& engine) {
    router.post("/v1/chat/completions", Access::key,
                [&svc, &engine](RouteContext& ctx) { handle(ctx, svc, engine, true); });
    router.post("/v1/completions", Access::key,
                [&svc, &engine](RouteContext& ctx) { handle(ctx, svc, engine, false); });
}

}  // namespace llmtune::server
