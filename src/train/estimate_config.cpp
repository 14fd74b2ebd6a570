#include "train/estimate_config.h"

#include <algorithm>
#include <fstream>

#include "train/train_data.h"

namespace llmtune::train {

namespace {

double vm_rss_bytes() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) * 1024;
    return 0;
}

std::vector<RowShape> row_shapes(const std::vector<data::TrainingExample>& examples,
                                 const std::vector<std::vector<int64_t>>& rows) {
    std::vector<RowShape> out;
    out.reserve(rows.size());
    for (const auto& row : rows) {
        RowShape r;
        for (int64_t i : row) {
            r.tokens += examples[static_cast<size_t>(i)].size();
            r.targets += examples[static_cast<size_t>(i)].target_count();
        }
        out.push_back(r);
    }
    return out;
}

}  // namespace

EstimateRequest estimate_request_from_config(const TrainConfig& config, ConfigDataSummary* summary) {
    EstimateRequest r;
    r.model = model::load_model_config(config.model.path);
    r.method.lora = config.method() == TrainMethod::lora;
    r.method.lora_r = config.lora.r;
    r.method.lora_targets = resolve_lora_targets(config.lora.target_modules);
    r.lora_dropout = r.method.lora ? config.lora.dropout : 0.0;
    r.weight_bytes = config.model.dtype == "bf16" ? 2 : 4;
    r.gradient_checkpointing = config.training.gradient_checkpointing;
    const auto& t = config.training;
    r.plan.batch_size = t.batch_size;
    r.plan.gradient_accumulation_steps = t.gradient_accumulation_steps;
    r.plan.epochs = t.epochs;
    r.plan.max_steps = t.max_steps;
    r.plan.eval_steps = config.eval.eval_steps;
    r.plan.packing = config.data.packing;
    r.plan.max_seq_len = config.data.max_seq_len;
    r.plan.seed = t.seed;

    // The trainer reads the data the same way; what that leaves resident (tokenizer and chat
    // template remnants the allocator keeps, the examples) is measured here, in this process,
    // while the examples are alive. Meaningful in a fresh process (as `llmtune estimate` is).
    const double rss_before = vm_rss_bytes();
    const PreparedData data = prepare_training_data(config);
    const double rss_data = vm_rss_bytes() - rss_before;
    const auto train_rows = plan_rows(data.train, config.data.packing, config.data.max_seq_len);
    const auto valid_rows = plan_rows(data.validation, config.data.packing, config.data.max_seq_len);
    r.train_rows = row_shapes(data.train, train_rows);
    r.valid_rows = row_shapes(data.validation, valid_rows);
    double bytes = 0;
    for (const auto* set : {&data.train, &data.validation})
        for (const auto& e : *set)
            bytes += 8.0 * static_cast<double>(e.size()) + 64.0;  // two int32 vectors + headers
    r.dataset_bytes = std::max(bytes, rss_data);
    if (summary) {
        summary->train_examples = static_cast<int64_t>(data.train.size());
        summary->valid_examples = static_cast<int64_t>(data.validation.size());
        summary->train_rows = static_cast<int64_t>(r.train_rows.size());
        summary->valid_rows = static_cast<int64_t>(r.valid_rows.size());
        for (const auto& row : r.train_rows) {
            summary->train_tokens += row.tokens;
            summary->train_targets += row.targets;
        }
        summary->truncated_examples = data.truncated_examples;
    }
    return r;
}

}  // namespace llmtune::train
