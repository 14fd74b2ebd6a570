#include "train/step_time_model.h"

#include <cmath>
#include <limits>

#include "common/error.h"

namespace llmtune::train {

ordered_json StepTimeFit::to_json() const {
    ordered_json j;
    j["hardware_kind"] = hardware_kind;
    j["k_gemm"] = k_gemm;
    j["k_bf16"] = k_bf16;
    j["k_elem"] = k_elem;
    j["k_opt"] = k_opt;
    j["k_step"] = k_step;
    j["c_job"] = c_job;
    j["c_gb"] = c_gb;
    j["step_samples"] = step_samples;
    j["job_samples"] = job_samples;
    j["rms_relative_error"] = rms_relative_error;
    j["fitted_on"] = fitted_on;
    return j;
}

StepTimeFit parse_step_time_fit(const json& j, const std::string& source) {
    StepTimeFit f;
    try {
        f.hardware_kind = j.at("hardware_kind").get<std::string>();
        f.k_gemm = j.at("k_gemm").get<double>();
        f.k_bf16 = j.at("k_bf16").get<double>();
        f.k_elem = j.at("k_elem").get<double>();
        f.k_opt = j.at("k_opt").get<double>();
        f.k_step = j.at("k_step").get<double>();
        f.c_job = j.at("c_job").get<double>();
        f.c_gb = j.at("c_gb").get<double>();
        f.step_samples = j.value("step_samples", int64_t{0});
        f.job_samples = j.value("job_samples", int64_t{0});
        f.rms_relative_error = j.value("rms_relative_error", 0.0);
        f.fitted_on = j.value("fitted_on", "");
    } catch (const json::exception& e) {
        throw_invalid(source + ": bad step-time fit: " + e.what(),
                      "refit with `llmtune bench estimate --fit`");
    }
    return f;
}

namespace {

double elementwise_bytes(const ShapeContext& c, const MicroBatchShape& m, double passes) {
    const auto& cfg = c.model;
    const double pos = static_cast<double>(m.rows * m.positions);
    const double layers = static_cast<double>(cfg.num_hidden_layers);
    double e = pos * layers *
               (8.0 * static_cast<double>(cfg.hidden_size) +
                6.0 * static_cast<double>(cfg.intermediate_size));
    e += pos * layers * 3.0 * static_cast<double>(cfg.num_attention_heads * m.positions);
    e += static_cast<double>(m.targets) * 3.0 * static_cast<double>(cfg.vocab_size);
    return 4.0 * e * passes;
}

}  // namespace

StepFeatures micro_batch_features(const ShapeContext& c, const MicroBatchShape& m,
                                  const HardwareProfile& hw) {
    StepFeatures f;
    double flops = 0;
    // Rows of one micro-batch share its padded width.
    const RowFlops r = train_row_flops(c.model, c.method, m.positions, 0, c.gradient_checkpointing);
    flops = (r.layers + r.attention) * static_cast<double>(m.rows);
    flops += train_row_flops(c.model, c.method, 0, m.targets, false).lm_head;
    f.flops = flops;
    (c.weight_bytes == 2 ? f.gemm_bf16_s : f.gemm_s) = flops / hw.flops(c.weight_bytes);
    f.elem_s = elementwise_bytes(c, m, c.gradient_checkpointing ? 4.0 / 3.0 : 1.0) /
               hw.memory_bandwidth;
    return f;
}

StepFeatures eval_batch_features(const ShapeContext& c, const MicroBatchShape& m,
                                 const HardwareProfile& hw) {
    StepFeatures f;
    const RowFlops r = eval_row_flops(c.model, m.positions, 0);
    f.flops = (r.layers + r.attention) * static_cast<double>(m.rows) +
              eval_row_flops(c.model, 0, m.targets).lm_head;
    (c.weight_bytes == 2 ? f.gemm_bf16_s : f.gemm_s) = f.flops / hw.flops(c.weight_bytes);
    f.elem_s = elementwise_bytes(c, m, 1.0 / 3.0) / hw.memory_bandwidth;
    return f;
}

StepFeatures step_features(const ShapeContext& c, const std::vector<MicroBatchShape>& micro,
                           const HardwareProfile& hw) {
    StepFeatures f;
    for (const auto& m : micro) {
        const StepFeatures g = micro_batch_features(c, m, hw);
        f.gemm_s += g.gemm_s;
        f.gemm_bf16_s += g.gemm_bf16_s;
        f.elem_s += g.elem_s;
        f.flops += g.flops;
    }
    const ParameterCounts p = count_parameter_roles(c.model, c.method);
    f.opt_s = 20.0 * static_cast<double>(p.trainable) / hw.memory_bandwidth;
    return f;
}

double job_gigabytes(const ParameterCounts& p, int64_t weight_bytes) {
    return (static_cast<double>(p.total) * static_cast<double>(weight_bytes) +
            2.0 * 12.0 * static_cast<double>(p.trainable)) / 1e9;
}

namespace {

// Weighted least squares over the columns in `mask`; false when singular.
bool solve_subset(const std::vector<std::vector<double>>& x, const std::vector<double>& y,
                  const std::vector<double>& w, unsigned mask, size_t k, std::vector<double>& beta) {
    std::vector<size_t> cols;
    for (size_t j = 0; j < k; ++j)
        if (mask & (1u << j)) cols.push_back(j);
    const size_t m = cols.size();
    std::vector<std::vector<double>> a(m, std::vector<double>(m + 1, 0.0));
    for (size_t i = 0; i < y.size(); ++i)
        for (size_t p = 0; p < m; ++p) {
            for (size_t q = 0; q < m; ++q)
                a[p][q] += w[i] * x[i][cols[p]] * x[i][cols[q]];
            a[p][m] += w[i] * x[i][cols[p]] * y[i];
        }
    // Gaussian elimination with partial pivoting on the normal equations.
    for (size_t p = 0; p < m; ++p) {
        size_t best = p;
        for (size_t r = p + 1; r < m; ++r)
            if (std::fabs(a[r][p]) > std::fabs(a[best][p])) best = r;
        std::swap(a[p], a[best]);
        if (std::fabs(a[p][p]) < 1e-300) return false;
        for (size_t r = 0; r < m; ++r) {
            if (r == p) continue;
            const double f = a[r][p] / a[p][p];
            for (size_t q = p; q <= m; ++q)
                a[r][q] -= f * a[p][q];
        }
    }
    beta.assign(k, 0.0);
    for (size_t p = 0; p < m; ++p)
        beta[cols[p]] = a[p][m] / a[p][p];
    return true;
}

// Non-negative weighted least squares by trying every subset (k <= 5 columns).
std::vector<double> nn_fit(const std::vector<std::vector<double>>& x, const std::vector<double>& y,
                           size_t k, double& rms_rel) {
    std::vector<double> w(y.size());
    for (size_t i = 0; i < y.size(); ++i)
        w[i] = 1.0 / (y[i] * y[i]);
    double best_err = std::numeric_limits<double>::infinity();
    std::vector<double> best;
    for (unsigned mask = 1; mask < (1u << k); ++mask) {
        std::vector<double> beta;
        if (!solve_subset(x, y, w, mask, k, beta)) continue;
        bool ok = true;
        for (double b : beta)
            ok = ok && b >= 0;
        if (!ok) continue;
        double err = 0;
        for (size_t i = 0; i < y.size(); ++i) {
            double pred = 0;
            for (size_t j = 0; j < k; ++j)
                pred += beta[j] * x[i][j];
            err += w[i] * (pred - y[i]) * (pred - y[i]);
        }
        if (err < best_err) {
            best_err = err;
            best = beta;
        }
    }
    if (best.empty()) throw Error(ErrorKind::internal, "no non-negative fit of the step times");
    rms_rel = std::sqrt(best_err / static_cast<double>(y.size()));
    return best;
}

}  // namespace

StepTimeFit fit_step_time(const std::vector<TimeSample>& steps, const std::vector<JobSample>& jobs) {
    if (steps.size() < 4)
        throw_invalid("the step-time fit needs at least 4 measured steps, got " +
                      std::to_string(steps.size()));
    if (jobs.size() < 2)
        throw_invalid("the job-overhead fit needs at least 2 measured runs, got " +
                      std::to_string(jobs.size()));
    std::vector<std::vector<double>> x;
    std::vector<double> y;
    for (const auto& s : steps) {
        if (!(s.seconds > 0)) throw_invalid("a measured step time must be > 0");
        x.push_back({s.features.gemm_s, s.features.gemm_bf16_s, s.features.elem_s,
                     s.features.opt_s, 1.0});
        y.push_back(s.seconds);
    }
    StepTimeFit f;
    const auto beta = nn_fit(x, y, 5, f.rms_relative_error);
    f.k_gemm = beta[0];
    f.k_bf16 = beta[1];
    f.k_elem = beta[2];
    f.k_opt = beta[3];
    f.k_step = beta[4];
    f.step_samples = static_cast<int64_t>(steps.size());
    // Job overhead: ordinary (not relative) least squares, non-negative, over 2 columns.
    std::vector<std::vector<double>> xj;
    std::vector<double> yj;
    for (const auto& j : jobs) {
        xj.push_back({1.0, j.gigabytes});
        yj.push_back(std::max(j.overhead_s, 1e-3));
    }
    double ignored = 0;
    const auto bj = nn_fit(xj, yj, 2, ignored);
    f.c_job = bj[0];
    f.c_gb = bj[1];
    f.job_samples = static_cast<int64_t>(jobs.size());
    return f;
}

}  // namespace llmtune::train
