#include "train/estimator.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/error.h"

namespace llmtune::train {

std::vector<RowShape> rows_from_token_stats(int64_t count, double mean_tokens,
                                            double trainable_fraction, int64_t max_seq_len,
                                            bool packing) {
    if (count < 1 || !(mean_tokens > 0))
        throw_invalid("token statistics need at least one example with tokens");
    const int64_t per_row = std::min<int64_t>(max_seq_len, std::llround(mean_tokens));
    std::vector<RowShape> rows;
    if (packing) {
        const double total = static_cast<double>(count) * static_cast<double>(per_row);
        const auto n = static_cast<int64_t>(std::ceil(total / static_cast<double>(max_seq_len)));
        const int64_t fill = std::llround(total / static_cast<double>(n));
        rows.assign(static_cast<size_t>(n),
                    {fill, std::llround(static_cast<double>(fill) * trainable_fraction)});
    } else {
        rows.assign(static_cast<size_t>(count),
                    {per_row, std::llround(static_cast<double>(per_row) * trainable_fraction)});
    }
    return rows;
}

namespace {

std::string gb(double bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f GB", bytes / 1e9);
    return buf;
}

// Everything but the suggestions.
Estimate estimate_core(const EstimateRequest& r, const HardwareProfile& hw, const StepTimeFit& fit) {
    if (r.weight_bytes != 2 && r.weight_bytes != 4)
        throw_invalid("the base dtype must be f32 or bf16");
    if (!r.method.lora && r.weight_bytes != 4)
        throw_invalid("full fine-tuning needs model.dtype f32", "use f32, or LoRA on a bf16 base");
    if (hw.measured && hw.flops(r.weight_bytes) <= 0)
        throw_invalid("hardware profile '" + hw.name + "' has no " +
                      (r.weight_bytes == 2 ? "bf16" : "f32") + " FLOP/s figure",
                      "measure it again with `llmtune bench device`");
    Estimate e;
    e.hardware = hw;
    const StepPlan plan = plan_steps(r.train_rows, r.valid_rows, r.plan);
    ShapeContext ctx{r.model, r.method, r.weight_bytes, r.gradient_checkpointing};
    const ParameterCounts p = count_parameter_roles(r.model, r.method);
    e.trainable_parameters = p.trainable;
    e.total_parameters = p.total;
    e.total_steps = static_cast<int64_t>(plan.steps.size());

    MemoryShape ms;
    ms.model = r.model;
    ms.method = r.method;
    ms.weight_bytes = r.weight_bytes;
    ms.gradient_checkpointing = r.gradient_checkpointing;
    ms.lora_dropout = r.lora_dropout;
    ms.packing = r.plan.packing;
    ms.materialized_attention = hw.kind == "cpu";
    ms.runtime_bytes = hw.kind == "cpu" ? hw.runtime_bytes : 0;
    ms.dataset_bytes = hw.kind == "cpu" ? r.dataset_bytes : 0;
    for (const auto& b : plan.eval_batches) {
        if (b.rows * b.positions * (1 + b.positions) >
            ms.eval_rows * ms.eval_positions * (1 + ms.eval_positions)) {
            ms.eval_rows = b.rows;
            ms.eval_positions = b.positions;
            ms.eval_targets = b.targets;
        }
    }
    if (plan.evaluations == 0) ms.eval_rows = 0;

    double gemm_s = 0;
    bool first_memory = true;
    for (const auto& step : plan.steps) {
        const StepFeatures f = step_features(ctx, step, hw);
        e.train_flops += f.flops;
        gemm_s += f.gemm_s + f.gemm_bf16_s;
        e.train_s += fit.step_seconds(f);
        for (const auto& m : step) {
            e.train_tokens += m.tokens;
            e.train_positions += m.rows * m.positions;
            e.target_tokens += m.targets;
            // Memory at each distinct shape; the largest peak wins.
            ms.batch_rows = m.rows;
            ms.positions = m.positions;
            ms.batch_targets = m.targets;
            const MemoryBreakdown mb = estimate_memory(ms);
            if (first_memory || mb.peak > e.memory.peak) e.memory = mb;
            first_memory = false;
        }
    }
    double eval_gemm_s = 0;
    for (const auto& b : plan.eval_batches) {
        const StepFeatures f = eval_batch_features(ctx, b, hw);
        e.eval_flops += f.flops * static_cast<double>(plan.evaluations);
        eval_gemm_s += (f.gemm_s + f.gemm_bf16_s) * static_cast<double>(plan.evaluations);
        e.eval_s += fit.step_seconds(f) * static_cast<double>(plan.evaluations);
    }
    const double total_flops = e.train_flops + e.eval_flops;
    if (hw.measured) {
        // Loading + hashing the weights, a checkpoint (weights or adapters + AdamW) and the
        // final artifacts.
        e.overhead_s = fit.c_job + fit.c_gb * job_gigabytes(p, r.weight_bytes);
        e.total_s = e.train_s + e.eval_s + e.overhead_s;
        e.utilization = (gemm_s + eval_gemm_s) / std::max(e.train_s + e.eval_s, 1e-12);
        e.time_basis = "step-time model fitted to " + std::to_string(fit.step_samples) +
                       " measured steps (" + fit.fitted_on + "), at this machine's measured GEMM " +
                       "FLOP/s and bandwidth";
    } else if (hw.flops(2) <= 0) {
        e.time_known = false;
        e.time_basis = "unknown: the catalog has no peak FLOP/s figure for " + hw.accelerator;
    } else {
        // GPUs run f32 matmuls as TF32 or bf16 at best; the bf16 peak bounds both.
        const double peak = hw.flops(2) * static_cast<double>(hw.accelerator_count);
        e.train_s = e.train_flops / peak;
        e.eval_s = e.eval_flops / peak;
        e.total_s = total_flops / peak;
        e.utilization = 1.0;
        e.time_lower_bound = true;
        e.time_basis = "lower bound: FLOPs at the data sheet's peak of all " +
                       std::to_string(hw.accelerator_count) +
                       " accelerators (no measured utilisation for this hardware yet)";
    }
    if (hw.price_per_hour && e.time_known) e.cost_usd = *hw.price_per_hour * e.total_s / 3600.0;

    e.memory_capacity = hw.accelerator_memory_bytes * kUsableMemoryFraction;
    e.fits = e.memory.peak <= e.memory_capacity;
    if (e.fits) {
        e.verdict = "fits: peak " + gb(e.memory.peak) + " of " + gb(hw.accelerator_memory_bytes) +
                    (hw.kind == "gpu" ? " per GPU" : " RAM");
    } else {
        const auto& m = e.memory;
        std::string biggest = "activations " + gb(m.activations);
        if (m.weights + m.optimizer > m.activations) biggest = "weights + optimizer state " + gb(m.weights + m.optimizer);
        e.verdict = "does not fit: peak " + gb(m.peak) + " (at the end of " + m.peak_phase +
                    ") exceeds " + gb(e.memory_capacity) + " (" +
                    std::to_string(static_cast<int>(kUsableMemoryFraction * 100)) + "% of " +
                    gb(hw.accelerator_memory_bytes) + "); largest part: " + biggest;
    }
    return e;
}

// What a variant changes, so combinations never name the same setting twice.
enum VariantKind : unsigned { kCheckpointing = 1, kBatch = 2, kMethod = 4, kDtype = 8 };

struct Variant {
    std::string change;
    EstimateRequest request;
    int changes = 0;
    unsigned kinds = 0;
};

}  // namespace

Estimate estimate_training(const EstimateRequest& r, const HardwareProfile& hw, const StepTimeFit& fit) {
    Estimate e = estimate_core(r, hw, fit);
    if (e.fits) return e;
    // Candidate changes, alone and combined; each re-estimated, never guessed.
    std::vector<Variant> singles;
    if (!r.gradient_checkpointing && r.suggest_checkpointing) {
        Variant v{"gradient_checkpointing: true", r, 1, kCheckpointing};
        v.request.gradient_checkpointing = true;
        singles.push_back(v);
    }
    for (int64_t b = r.plan.batch_size / 2; b >= 1; b /= 2) {
        Variant v{"", r, 1, kBatch};
        v.request.plan.batch_size = b;
        v.request.plan.gradient_accumulation_steps =
            r.plan.gradient_accumulation_steps * (r.plan.batch_size / b);
        v.change = "batch_size: " + std::to_string(b) + ", gradient_accumulation_steps: " +
                   std::to_string(v.request.plan.gradient_accumulation_steps) +
                   " (same rows per step)";
        singles.push_back(v);
    }
    if (!r.method.lora) {
        Variant v{"method: lora (r 16, all-linear)", r, 1, kMethod};
        v.request.method.lora = true;
        v.request.method.lora_r = 16;
        v.request.method.lora_targets = resolve_lora_targets({"all-linear"});
        singles.push_back(v);
        if (r.suggest_bf16) {
            Variant w{"method: lora (r 16, all-linear), model.dtype: bf16", v.request, 2,
                      kMethod | kDtype};
            w.request.weight_bytes = 2;
            singles.push_back(w);
        }
    } else if (r.weight_bytes == 4 && r.suggest_bf16) {
        Variant v{"model.dtype: bf16 (adapters stay f32)", r, 1, kDtype};
        v.request.weight_bytes = 2;
        singles.push_back(v);
    }
    std::vector<Variant> all = singles;
    // Pairs and triples of the single changes, each setting changed once at most.
    const size_t n = singles.size();
    auto disjoint = [](const Variant& a, const Variant& b) { return (a.kinds & b.kinds) == 0; };
    auto combine = [&](Variant a, const Variant& b) {
        a.change += "; " + b.change;
        a.changes += b.changes;
        a.kinds |= b.kinds;
        if (b.request.gradient_checkpointing) a.request.gradient_checkpointing = true;
        if (b.kinds & kBatch) a.request.plan = b.request.plan;
        if (b.request.method.lora != r.method.lora) a.request.method = b.request.method;
        if (b.request.weight_bytes != r.weight_bytes) a.request.weight_bytes = b.request.weight_bytes;
        return a;
    };
    for (size_t i = 0; i < n; ++i)
        for (size_t j = i + 1; j < n; ++j) {
            if (!disjoint(singles[i], singles[j])) continue;
            Variant ij = combine(singles[i], singles[j]);
            all.push_back(ij);
            for (size_t k = j + 1; k < n; ++k) {
                if (!disjoint(ij, singles[k])) continue;
                all.push_back(combine(ij, singles[k]));
            }
        }
    struct Scored {
        Variant v;
        Estimate e;
    };
    std::vector<Scored> fitting;
    for (const auto& v : all) {
        Estimate ve = estimate_core(v.request, hw, fit);
        if (ve.fits) fitting.push_back({v, ve});
    }
    // Of variants that differ only in batch size, the largest batch that fits is the nearest.
    {
        std::vector<Scored> kept;
        for (const auto& s : fitting) {
            const auto& q = s.v.request;
            bool dominated = false;
            for (const auto& o : fitting) {
                const auto& p2 = o.v.request;
                if (p2.method.lora == q.method.lora && p2.weight_bytes == q.weight_bytes &&
                    p2.gradient_checkpointing == q.gradient_checkpointing &&
                    p2.plan.batch_size > q.plan.batch_size)
                    dominated = true;
            }
            if (!dominated) kept.push_back(s);
        }
        fitting = kept;
    }
    // Nearest first: fewest changes, then the fastest.
    std::sort(fitting.begin(), fitting.end(), [](const Scored& a, const Scored& b) {
        if (a.v.changes != b.v.changes) return a.v.changes < b.v.changes;
        return a.e.total_s < b.e.total_s;
    });
    for (const auto& s : fitting) {
        if (e.suggestions.size() >= 4) break;
        Suggestion sg;
        sg.change = s.v.change;
        sg.settings = {{"method", s.v.request.method.lora ? "lora" : "full"},
                       {"dtype", s.v.request.weight_bytes == 2 ? "bf16" : "f32"},
                       {"gradient_checkpointing", s.v.request.gradient_checkpointing},
                       {"batch_size", s.v.request.plan.batch_size},
                       {"gradient_accumulation_steps", s.v.request.plan.gradient_accumulation_steps}};
        sg.peak_bytes = s.e.memory.peak;
        sg.total_s = s.e.total_s;
        e.suggestions.push_back(sg);
    }
    if (e.suggestions.empty())
        e.verdict += "; no combination of gradient checkpointing, a smaller batch, LoRA and bf16 "
                     "fits: use hardware with more memory or a shorter max_seq_len";
    return e;
}

ordered_json Estimate::to_json() const {
    ordered_json j;
    j["hardware"] = hardware.name;
    j["steps"] = total_steps;
    j["parameters"] = {{"total", total_parameters}, {"trainable", trainable_parameters}};
    j["tokens"] = {{"train", train_tokens}, {"train_positions", train_positions},
                   {"target", target_tokens}};
    j["flops"] = {{"train", train_flops}, {"eval", eval_flops}, {"total", train_flops + eval_flops}};
    j["time"] = {{"total_s", total_s},   {"train_s", train_s},
                 {"eval_s", eval_s},     {"overhead_s", overhead_s},
                 {"known", time_known},
                 {"utilization", utilization}, {"lower_bound", time_lower_bound},
                 {"basis", time_basis}};
    const auto& m = memory;
    j["memory"] = {{"peak_bytes", m.peak},
                   {"peak_phase", m.peak_phase},
                   {"capacity_bytes", memory_capacity},
                   {"runtime", m.runtime},
                   {"dataset", m.dataset},
                   {"weights", m.weights},
                   {"optimizer", m.optimizer},
                   {"gradients", m.gradients},
                   {"activations", m.activations},
                   {"loss_buffers", m.loss_buffers},
                   {"attention_transient", m.attention_transient},
                   {"step_transient", m.step_transient},
                   {"forward_peak", m.forward_peak},
                   {"backward_peak", m.backward_peak},
                   {"eval_peak", m.eval_peak}};
    if (cost_usd) {
        j["cost"] = {{"usd", *cost_usd},
                     {"price_per_hour_usd", *hardware.price_per_hour},
                     {"price_source", hardware.price_source},
                     {"price_date", hardware.price_date},
                     {"lower_bound", time_lower_bound}};
    } else {
        j["cost"] = nullptr;
    }
    j["fits"] = fits;
    j["verdict"] = verdict;
    j["suggestions"] = ordered_json::array();
    for (const auto& s : suggestions)
        j["suggestions"].push_back({{"change", s.change},
                                    {"settings", s.settings},
                                    {"peak_bytes", s.peak_bytes},
                                    {"total_s", s.total_s}});
    return j;
}

}  // namespace llmtune::train
