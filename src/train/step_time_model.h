// Step time as a function of the step's shape, with coefficients fitted by least squares to
// measured training runs (data/estimator/measurements.jsonl, refit with
// `llmtune bench estimate --fit`). Torch-free.
//
//   step_s = k_gemm x gemm_s + k_bf16 x gemm_bf16_s + k_elem x elem_s + k_opt x opt_s + k_step
//
// where, at the hardware profile's measured rates,
//   gemm_s  = the step's matmul FLOPs (flop_model.h) / GEMM FLOP/s of the base dtype, for an
//             f32 base; gemm_bf16_s the same for a bf16 base (its own coefficient: a bf16
//             training step is far from the bf16 GEMM rate on CPUs: casts, f32 adapters)
//   elem_s  = the bytes of the elementwise work (norms, RoPE, SiLU, residuals: 4 bytes x
//             (8H + 6I) per position and layer; masking and softmax: 3 x nh x T per position
//             and layer; the loss's softmax rows: 3 x V per target) / read bandwidth
//   opt_s   = the AdamW and clipping traffic, 20 bytes per trained parameter / read bandwidth
// so that utilisation = gemm_s / step_s falls for small matmuls (thin rows, small hidden
// sizes, LoRA's rank-r products) as measured, instead of being a constant. A job adds
//   job_s  = sum of steps + evaluation passes + c_job + c_gb x (GB of weights read and written)
// for loading, hashing, checkpoints and artifacts.
//
// The fit minimises the squared relative error (each sample weighted by 1 / measured^2) over
// every subset of the coefficients, keeping the best one whose coefficients are all >= 0.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/json_file.h"
#include "model/model_config.h"
#include "train/flop_model.h"
#include "train/hardware_profile.h"
#include "train/step_plan.h"

namespace llmtune::train {

struct StepFeatures {
    double gemm_s = 0;
    double gemm_bf16_s = 0;
    double elem_s = 0;
    double opt_s = 0;
    double flops = 0;  // the matmul FLOPs behind gemm_s
};

struct StepTimeFit {
    std::string hardware_kind = "cpu";
    double k_gemm = 1, k_bf16 = 1, k_elem = 0, k_opt = 0, k_step = 0;
    double c_job = 0, c_gb = 0;
    int64_t step_samples = 0, job_samples = 0;
    double rms_relative_error = 0;  // of the step fit, over its samples
    std::string fitted_on;          // what the samples were (free text)

    double step_seconds(const StepFeatures& f) const {
        return k_gemm * f.gemm_s + k_bf16 * f.gemm_bf16_s + k_elem * f.elem_s +
               k_opt * f.opt_s + k_step;
    }
    ordered_json to_json() const;
};

StepTimeFit parse_step_time_fit(const json& j, const std::string& source);
// The fit compiled into the binary (data/estimator/step_time_fit.json at build time).
StepTimeFit builtin_step_time_fit();

// Features of one micro-batch (training: forward + backward) or an evaluation batch.
struct ShapeContext {
    model::ModelConfig model;
    MethodShape method;
    int64_t weight_bytes = 4;
    bool gradient_checkpointing = false;
};
StepFeatures micro_batch_features(const ShapeContext& c, const MicroBatchShape& m,
                                  const HardwareProfile& hw);
StepFeatures eval_batch_features(const ShapeContext& c, const MicroBatchShape& m,
                                 const HardwareProfile& hw);
// A whole optimizer step: its micro-batches plus one optimizer update.
StepFeatures step_features(const ShapeContext& c, const std::vector<MicroBatchShape>& micro,
                           const HardwareProfile& hw);

// GB a job reads and writes besides its steps: the base weights (loaded and hashed), one
// checkpoint and the final artifacts (trained weights or adapters, twice with AdamW's moments).
double job_gigabytes(const ParameterCounts& p, int64_t weight_bytes);

// One measured sample: features and the measured seconds.
struct TimeSample {
    StepFeatures features;
    double seconds = 0;
};
struct JobSample {
    double overhead_s = 0;  // job wall time minus the measured steps and evaluations
    double gigabytes = 0;   // weights read + checkpoint and artifact bytes written
};
// invalid_input when there are fewer samples than it needs (4 steps, 2 jobs).
StepTimeFit fit_step_time(const std::vector<TimeSample>& steps, const std::vector<JobSample>& jobs);

}  // namespace llmtune::train
