#include "train/estimate_request_json.h"

#include "common/error.h"

namespace llmtune::train {

namespace {

ordered_json rows_json(const std::vector<RowShape>& rows) {
    ordered_json a = ordered_json::array();
    for (const auto& r : rows)
        a.push_back({r.tokens, r.targets});
    return a;
}

std::vector<RowShape> rows_from(const json& a) {
    std::vector<RowShape> rows;
    for (const auto& r : a)
        rows.push_back({r.at(0).get<int64_t>(), r.at(1).get<int64_t>()});
    return rows;
}

}  // namespace

ordered_json estimate_request_to_json(const EstimateRequest& r) {
    ordered_json j;
    j["model"] = model::model_config_to_json(r.model);
    j["method"] = r.method.lora ? "lora" : "full";
    j["lora_r"] = r.method.lora_r;
    j["lora_targets"] = r.method.lora_targets;
    j["lora_dropout"] = r.lora_dropout;
    j["dtype"] = r.weight_bytes == 2 ? "bf16" : "f32";
    j["gradient_checkpointing"] = r.gradient_checkpointing;
    j["batch_size"] = r.plan.batch_size;
    j["gradient_accumulation_steps"] = r.plan.gradient_accumulation_steps;
    j["epochs"] = r.plan.epochs;
    j["max_steps"] = r.plan.max_steps;
    j["eval_steps"] = r.plan.eval_steps;
    j["packing"] = r.plan.packing;
    j["max_seq_len"] = r.plan.max_seq_len;
    j["seed"] = r.plan.seed;
    j["dataset_bytes"] = r.dataset_bytes;
    j["train_rows"] = rows_json(r.train_rows);
    j["valid_rows"] = rows_json(r.valid_rows);
    return j;
}

EstimateRequest estimate_request_from_json(const json& j, const std::string& source) {
    EstimateRequest r;
    try {
        r.model = model::parse_model_config(j.at("model"), source + ": model");
        r.method.lora = j.at("method").get<std::string>() == "lora";
        r.method.lora_r = j.at("lora_r").get<int64_t>();
        r.method.lora_targets =
            resolve_lora_targets(j.at("lora_targets").get<std::vector<std::string>>());
        r.lora_dropout = j.at("lora_dropout").get<double>();
        r.weight_bytes = j.at("dtype").get<std::string>() == "bf16" ? 2 : 4;
        r.gradient_checkpointing = j.at("gradient_checkpointing").get<bool>();
        r.plan.batch_size = j.at("batch_size").get<int64_t>();
        r.plan.gradient_accumulation_steps = j.at("gradient_accumulation_steps").get<int64_t>();
        r.plan.epochs = j.at("epochs").get<int64_t>();
        r.plan.max_steps = j.at("max_steps").get<int64_t>();
        r.plan.eval_steps = j.at("eval_steps").get<int64_t>();
        r.plan.packing = j.at("packing").get<bool>();
        r.plan.max_seq_len = j.at("max_seq_len").get<int64_t>();
        r.plan.seed = j.at("seed").get<uint64_t>();
        r.dataset_bytes = j.at("dataset_bytes").get<double>();
        r.train_rows = rows_from(j.at("train_rows"));
        r.valid_rows = rows_from(j.at("valid_rows"));
    } catch (const json::exception& e) {
        throw_invalid(source + ": bad estimate request: " + e.what());
    }
    return r;
}

}  // namespace llmtune::train
