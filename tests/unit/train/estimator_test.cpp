// The estimator: FLOP and memory formulas against hand-computed cases for real model shapes
// (Qwen2.5-0.5B, Llama-3.2-1B), the step plan, the least-squares fit, the fit verdict and its
// suggestions (each re-estimated), the hardware catalog and bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "common/error.h"
#include "support/test_support.h"
#include "train/calibration.h"
#include "train/estimate_request_json.h"
#include "train/estimator.h"
#include "train/flop_model.h"
#include "train/hardware_profile.h"
#include "train/memory_model.h"
#include "train/step_plan.h"
#include "train/step_time_model.h"

namespace llmtune::train {
namespace {

using test::TempDir;
using test::write_file;

// Qwen/Qwen2.5-0.5B's config.json values.
model::ModelConfig qwen25_05b() {
    model::ModelConfig c;
    c.arch = model::Architecture::qwen2;
    c.hidden_size = 896;
    c.intermediate_size = 4864;
    c.num_hidden_layers = 24;
    c.num_attention_heads = 14;
    c.num_key_value_heads = 2;
    c.head_dim = 64;
    c.vocab_size = 151936;
    c.tie_word_embeddings = true;
    c.qkv_bias = true;
    return c;
}

// meta-llama/Llama-3.2-1B's config.json values.
model::ModelConfig llama32_1b() {
    model::ModelConfig c;
    c.arch = model::Architecture::llama;
    c.hidden_size = 2048;
    c.intermediate_size = 8192;
    c.num_hidden_layers = 16;
    c.num_attention_heads = 32;
    c.num_key_value_heads = 8;
    c.head_dim = 64;
    c.vocab_size = 128256;
    c.tie_word_embeddings = true;
    return c;
}

MethodShape full() {
    MethodShape m;
    m.lora = false;
    return m;
}

MethodShape lora(int64_t r, std::vector<std::string> targets = {"all-linear"}) {
    MethodShape m;
    m.lora = true;
    m.lora_r = r;
    m.lora_targets = resolve_lora_targets(targets);
    return m;
}

TEST(FlopModel, ParameterRolesOfQwen25_05B) {
    const ParameterCounts p = count_parameter_roles(qwen25_05b(), lora(16));
    // Per layer: q 896*896 + k, v 896*128 + o 896*896 + gate, up, down 896*4864.
    EXPECT_EQ(p.layer_matmul, 24 * (2 * 802816 + 2 * 114688 + 3 * 4358144));
    EXPECT_EQ(p.lm_head, 151936 * 896);
    EXPECT_EQ(p.total, 494032768);  // the published 494M
    // r (in + out) per adapter: q, o 16*1792; k, v 16*1024; gate, up, down 16*5760.
    EXPECT_EQ(p.lora, 24 * (2 * 28672 + 2 * 16384 + 3 * 92160));
    EXPECT_EQ(p.lora, 8798208);  // what PEFT prints for r=16 all-linear
    EXPECT_EQ(p.trainable, p.lora);
}

TEST(FlopModel, FullFineTuningIsSixNPerTokenPlusAttention) {
    const auto c = llama32_1b();
    const RowFlops r = train_row_flops(c, full(), 512, 300, false);
    const double n = 16.0 * 60817408;  // 973,078,528 decoder matmul weights
    EXPECT_DOUBLE_EQ(r.layers, 6.0 * n * 512);
    EXPECT_DOUBLE_EQ(r.attention, 12.0 * 16 * 32 * 64 * 512.0 * 512);
    EXPECT_DOUBLE_EQ(r.lm_head, 6.0 * 128256 * 2048 * 300);
}

TEST(FlopModel, LoraIsFourNPlusTheAdapterTerms) {
    const auto c = qwen25_05b();
    const RowFlops r = train_row_flops(c, lora(16), 256, 100, false);
    EXPECT_DOUBLE_EQ(r.layers, (4.0 * 357826560 + 6.0 * 8798208) * 256);
    EXPECT_DOUBLE_EQ(r.lm_head, 4.0 * 151936 * 896 * 100);
    // Checkpointing recomputes each layer's forward: + 2n per token and a third more attention.
    const RowFlops g = train_row_flops(c, lora(16), 256, 100, true);
    EXPECT_DOUBLE_EQ(g.layers - r.layers, 2.0 * (357826560 + 8798208) * 256);
    EXPECT_DOUBLE_EQ(g.attention, r.attention * 4.0 / 3.0);
    EXPECT_DOUBLE_EQ(g.lm_head, r.lm_head);
}

TEST(FlopModel, EvaluationIsOneForwardPass) {
    const auto c = qwen25_05b();
    const RowFlops e = eval_row_flops(c, 128, 64);
    EXPECT_DOUBLE_EQ(e.layers, 2.0 * 357826560 * 128);
    EXPECT_DOUBLE_EQ(e.attention, 4.0 * 24 * 14 * 64 * 128.0 * 128);
    EXPECT_DOUBLE_EQ(e.lm_head, 2.0 * 151936 * 896 * 64);
}

TEST(FlopModel, LoraTargetsResolveAndUnknownOnesAreErrors) {
    EXPECT_EQ(resolve_lora_targets({"v", "q_proj"}),
              (std::vector<std::string>{"q_proj", "v_proj"}));
    EXPECT_EQ(resolve_lora_targets({"all-linear"}).size(), 7u);
    EXPECT_THROW(resolve_lora_targets({"lm_head"}), Error);
}

MemoryShape shape(const model::ModelConfig& c, MethodShape m, int64_t rows, int64_t t) {
    MemoryShape s;
    s.model = c;
    s.method = std::move(m);
    s.batch_rows = rows;
    s.positions = t;
    s.batch_targets = rows * t / 2;
    return s;
}

TEST(MemoryModel, ActivationBytesPerTokenOfLlama32_1BFull) {
    const auto s = shape(llama32_1b(), full(), 1, 512);
    // Two norms 2 (4H + 4) + 2 x 4H normalized; inputs of q/k/v, gate/up (4H each), o (4q),
    // down (4I); q, k, v after RoPE 4 (q + 2kv); softmax 4 nh T; gate, SiLU, up 3 x 4I.
    const double h = 2048, q = 2048, kv = 512, i = 8192, nh = 32, t = 512;
    const double expected = 2 * (4 * h + 4) + 8 * h + 4 * h + 4 * h + 4 * q + 4 * i +
                            4 * (q + 2 * kv) + 4 * nh * t + 12 * i;
    EXPECT_DOUBLE_EQ(layer_activation_bytes_per_token(s, 512), expected);
    EXPECT_DOUBLE_EQ(expected, 266248);
}

TEST(MemoryModel, LoraOnABf16BaseKeepsTheFusedKernelsBf16Tensors) {
    auto s = shape(qwen25_05b(), lora(8, {"q_proj", "v_proj"}), 1, 256);
    s.weight_bytes = 2;
    const double h = 896, q = 896, kv = 128, i = 4864, nh = 14, t = 256;
    // Fused norms: bf16 input + one f32 scale each; q and v share their one bf16 input (the
    // adapters compute in bf16); no other projection trains; bf16 q, k, v; the fused
    // softmax's bf16 probabilities; the fused SwiGLU's gate and up in bf16; two r=8 outputs.
    const double expected = 2 * (2 * h + 4) + 2 * h + 2 * (q + 2 * kv) + 2 * nh * t +
                            2 * 2 * i + 2 * 4 * 8;
    EXPECT_DOUBLE_EQ(layer_activation_bytes_per_token(s, 256), expected);
}

TEST(MemoryModel, PersistentPartsOfQwen25_05B) {
    auto s = shape(qwen25_05b(), full(), 2, 512);
    const MemoryBreakdown f = estimate_memory(s);
    EXPECT_DOUBLE_EQ(f.weights, 4.0 * 494032768);
    EXPECT_DOUBLE_EQ(f.optimizer, 8.0 * 494032768);
    EXPECT_DOUBLE_EQ(f.gradients, 4.0 * 494032768);
    // The end of forward holds the saved activations and the larger of the two transients
    // (a layer's scores are freed before the loss chunks exist), not both.
    ASSERT_GT(f.attention_transient, 0);
    EXPECT_DOUBLE_EQ(f.forward_peak, f.runtime + f.dataset + f.weights + f.optimizer +
                                         f.activations +
                                         std::max(f.loss_buffers, f.attention_transient));
    s.method = lora(16);
    s.weight_bytes = 2;
    const MemoryBreakdown l = estimate_memory(s);
    EXPECT_DOUBLE_EQ(l.weights, 2.0 * 494032768 + 4.0 * 8798208);
    EXPECT_DOUBLE_EQ(l.optimizer, 8.0 * 8798208);
    EXPECT_DOUBLE_EQ(l.gradients, 4.0 * 8798208);
    EXPECT_LT(l.peak, f.peak);
}

TEST(MemoryModel, CheckpointingKeepsOneLayerInputPerLayer) {
    auto s = shape(llama32_1b(), full(), 4, 1024);
    const MemoryBreakdown plain = estimate_memory(s);
    s.gradient_checkpointing = true;
    const MemoryBreakdown gc = estimate_memory(s);
    const double tokens = 4 * 1024, h = 2048;
    const double per_layer = layer_activation_bytes_per_token(s, 1024) * tokens;
    const double final_norm = tokens * (4 * h + 4 + 4 * h + 4 * h);
    EXPECT_DOUBLE_EQ(plain.activations, 16 * per_layer + final_norm);
    EXPECT_DOUBLE_EQ(gc.activations, 16 * 4 * h * tokens + per_layer + final_norm);
    // Activations scale with the batch.
    s.gradient_checkpointing = false;
    s.batch_rows = 2;
    EXPECT_NEAR(estimate_memory(s).activations - final_norm / 2, (plain.activations - final_norm) / 2, 1);
}

TEST(MemoryModel, LossBuffersFollowTheChunking) {
    auto s = shape(qwen25_05b(), lora(8), 1, 64);
    s.batch_targets = 1000;
    const MemoryBreakdown m = estimate_memory(s);
    // Chunks of max(16, 2^24 / V) = 110 rows of logits, f32; dh and the gathered states.
    const double chunk = 16777216.0 / 151936;
    EXPECT_DOUBLE_EQ(m.loss_buffers, chunk * 151936 * 4 + 2 * 1000.0 * 896 * 4);
    s.method = full();
    EXPECT_DOUBLE_EQ(estimate_memory(s).loss_buffers - m.loss_buffers, 4.0 * 151936 * 896);
}

std::vector<RowShape> rows(int64_t n, int64_t tokens) {
    return std::vector<RowShape>(static_cast<size_t>(n), RowShape{tokens, tokens / 2});
}

TEST(StepPlan, StepsNeverSpanEpochs) {
    StepPlanOptions o;
    o.batch_size = 4;
    o.gradient_accumulation_steps = 2;
    o.epochs = 2;
    const StepPlan p = plan_steps(rows(10, 8), rows(5, 8), o);
    // 3 batches per epoch (4, 4, 2) -> steps of 2 and 1 micro-batches, twice.
    ASSERT_EQ(p.steps.size(), 4u);
    EXPECT_EQ(p.steps_per_epoch, 2);
    EXPECT_EQ(p.steps[0].size(), 2u);
    EXPECT_EQ(p.steps[1].size(), 1u);
    EXPECT_EQ(p.steps[1][0].rows, 2);
    ASSERT_EQ(p.eval_batches.size(), 2u);
    EXPECT_EQ(p.evaluations, 1);
    o.eval_steps = 3;
    EXPECT_EQ(plan_steps(rows(10, 8), rows(5, 8), o).evaluations, 2);  // step 3 and the end
    o.packing = true;
    o.max_seq_len = 64;
    EXPECT_EQ(plan_steps(rows(10, 8), {}, o).steps[0][0].positions, 64);
    EXPECT_THROW(plan_steps({}, {}, o), Error);
}

TEST(StepPlan, PaddedBatchesAreAsWideAsTheirLongestRow) {
    StepPlanOptions o;
    o.batch_size = 3;
    o.epochs = 1;
    const StepPlan p = plan_steps({{5, 2}, {9, 3}, {7, 1}}, {}, o);
    ASSERT_EQ(p.steps.size(), 1u);
    EXPECT_EQ(p.steps[0][0].positions, 9);
    EXPECT_EQ(p.steps[0][0].tokens, 21);
    EXPECT_EQ(p.steps[0][0].targets, 6);
}

TEST(StepTimeFit, RecoversKnownCoefficients) {
    std::vector<TimeSample> samples;
    for (int i = 1; i <= 12; ++i) {
        StepFeatures f;
        f.gemm_s = 0.5 * i;
        f.elem_s = 0.1 * ((i * 7) % 5 + 1);
        f.opt_s = 0.01 * ((i * 3) % 4);
        f.gemm_bf16_s = i % 3 == 0 ? 0.3 * i : 0;
        samples.push_back({f, 1.3 * f.gemm_s + 4.0 * f.gemm_bf16_s + 2.0 * f.elem_s +
                                  0.5 * f.opt_s + 0.2});
    }
    const StepTimeFit fit = fit_step_time(samples, {{3.0, 1.0}, {5.0, 2.0}, {7.0, 3.0}});
    EXPECT_NEAR(fit.k_gemm, 1.3, 1e-6);
    EXPECT_NEAR(fit.k_bf16, 4.0, 1e-6);
    EXPECT_NEAR(fit.k_elem, 2.0, 1e-6);
    EXPECT_NEAR(fit.k_opt, 0.5, 1e-6);
    EXPECT_NEAR(fit.k_step, 0.2, 1e-6);
    EXPECT_NEAR(fit.c_job, 1.0, 1e-6);
    EXPECT_NEAR(fit.c_gb, 2.0, 1e-6);
    EXPECT_LT(fit.rms_relative_error, 1e-9);
    EXPECT_THROW(fit_step_time({samples[0]}, {{1, 1}, {2, 2}}), Error);
}

TEST(StepTimeFit, TheBuiltInFitIsReproducedFromTheCommittedMeasurements) {
    // data/estimator/step_time_fit.json must be what `llmtune bench estimate --fit` gives for
    // data/estimator/measurements.jsonl: a changed model or file without a refit fails here.
    const StepTimeFit refit =
        fit_from_measurements(std::string(LLMTUNE_ESTIMATOR_DATA) + "/measurements.jsonl");
    const StepTimeFit built_in = builtin_step_time_fit();
    EXPECT_GE(refit.step_samples, 20);
    EXPECT_EQ(refit.step_samples, built_in.step_samples);
    for (auto [a, b] : {std::pair{refit.k_gemm, built_in.k_gemm}, {refit.k_bf16, built_in.k_bf16},
                        {refit.k_elem, built_in.k_elem},
                        {refit.k_opt, built_in.k_opt}, {refit.k_step, built_in.k_step},
                        {refit.c_job, built_in.c_job}, {refit.c_gb, built_in.c_gb}})
        EXPECT_NEAR(a, b, 1e-9 * std::max(1.0, std::abs(b)));
    EXPECT_THROW(fit_from_measurements("/nonexistent/measurements.jsonl"), Error);
}

HardwareProfile cpu(double ram_gb) {
    HardwareProfile h;
    h.name = "test-cpu";
    h.kind = "cpu";
    h.measured = true;
    h.accelerator = "test";
    h.accelerator_memory_bytes = ram_gb * 1e9;
    h.flops_f32 = 1e11;
    h.flops_bf16 = 2e10;
    h.memory_bandwidth = 1e10;
    h.runtime_bytes = 0.2e9;
    return h;
}

StepTimeFit unit_fit() {
    StepTimeFit f;
    f.k_gemm = 1;
    return f;
}

EstimateRequest qwen_request(bool full_ft) {
    EstimateRequest r;
    r.model = qwen25_05b();
    r.method = full_ft ? full() : lora(16);
    r.weight_bytes = 4;
    r.plan.batch_size = 8;
    r.plan.epochs = 1;
    r.plan.max_seq_len = 1024;
    r.train_rows = rows(64, 1024);
    return r;
}

TEST(Estimator, TimeIsFlopsOverTheFittedRate) {
    const EstimateRequest r = qwen_request(false);
    const Estimate e = estimate_training(r, cpu(1000), unit_fit());
    EXPECT_EQ(e.total_steps, 8);
    const RowFlops row = train_row_flops(r.model, r.method, 1024, 0, false);
    const double per_step =
        8 * (row.layers + row.attention) + train_row_flops(r.model, r.method, 0, 8 * 512, false).lm_head;
    EXPECT_NEAR(e.train_flops, 8 * per_step, 1e-6 * e.train_flops);
    EXPECT_NEAR(e.train_s, e.train_flops / 1e11, 1e-9 * e.train_s);  // k_gemm = 1, nothing else
    EXPECT_NEAR(e.utilization, 1.0, 1e-12);
    EXPECT_TRUE(e.fits);
    EXPECT_TRUE(e.suggestions.empty());
    EXPECT_FALSE(e.cost_usd.has_value());
}

TEST(Estimator, TooBigGetsARe_EstimatedSuggestionThatFits) {
    // Full fine-tuning of 0.5B in f32: ~8 GB of weights, gradients and AdamW before any
    // activation; 9 GB of RAM leaves 8.1 GB usable.
    const EstimateRequest r = qwen_request(true);
    const HardwareProfile hw = cpu(9);
    const Estimate e = estimate_training(r, hw, unit_fit());
    EXPECT_FALSE(e.fits);
    EXPECT_NE(e.verdict.find("does not fit"), std::string::npos) << e.verdict;
    ASSERT_FALSE(e.suggestions.empty()) << e.verdict;
    for (const auto& s : e.suggestions) {
        EXPECT_LE(s.peak_bytes, hw.accelerator_memory_bytes * kUsableMemoryFraction) << s.change;
        // Re-running the estimator on the suggested settings gives the same verdict.
        EstimateRequest v = r;
        v.method = s.settings["method"] == "lora" ? lora(16) : full();
        v.weight_bytes = s.settings["dtype"] == "bf16" ? 2 : 4;
        v.gradient_checkpointing = s.settings["gradient_checkpointing"].get<bool>();
        v.plan.batch_size = s.settings["batch_size"].get<int64_t>();
        v.plan.gradient_accumulation_steps = s.settings["gradient_accumulation_steps"].get<int64_t>();
        const Estimate ve = estimate_training(v, hw, unit_fit());
        EXPECT_TRUE(ve.fits) << s.change;
        EXPECT_DOUBLE_EQ(ve.memory.peak, s.peak_bytes) << s.change;
    }
    // The weights alone rule out every full fine-tuning variant: each suggestion is LoRA.
    for (const auto& s : e.suggestions)
        EXPECT_EQ(s.settings["method"], "lora") << s.change;
}

TEST(Estimator, SuggestionsNameEachSettingOnceAndOnlySettableOnes) {
    const EstimateRequest r = qwen_request(true);
    const Estimate e = estimate_training(r, cpu(9), unit_fit());
    ASSERT_FALSE(e.suggestions.empty()) << e.verdict;
    for (const auto& s : e.suggestions)
        for (const char* setting : {"method:", "model.dtype:", "batch_size:", "gradient_checkpointing:"}) {
            size_t first = s.change.find(setting);
            EXPECT_TRUE(first == std::string::npos ||
                        s.change.find(setting, first + 1) == std::string::npos)
                << s.change;
        }
    // A caller that cannot set the dtype or checkpointing gets neither suggested.
    EstimateRequest f = r;
    f.suggest_bf16 = false;
    f.suggest_checkpointing = false;
    const Estimate fe = estimate_training(f, cpu(9), unit_fit());
    ASSERT_FALSE(fe.suggestions.empty()) << fe.verdict;
    for (const auto& s : fe.suggestions) {
        EXPECT_EQ(s.settings["dtype"], "f32") << s.change;
        EXPECT_FALSE(s.settings["gradient_checkpointing"].get<bool>()) << s.change;
    }
}

TEST(Estimator, CheckpointingIsSuggestedWhenActivationsAreTheProblem) {
    EstimateRequest r = qwen_request(false);
    r.plan.batch_size = 32;
    r.train_rows = rows(64, 1024);
    const Estimate big = estimate_training(r, cpu(1000), unit_fit());
    EstimateRequest g = r;
    g.gradient_checkpointing = true;
    const Estimate with_gc = estimate_training(g, cpu(1000), unit_fit());
    ASSERT_LT(with_gc.memory.peak, big.memory.peak);
    // RAM between the two peaks: only the change that cuts activations (or the batch) fits.
    const double ram = (with_gc.memory.peak + big.memory.peak) / 2 / kUsableMemoryFraction / 1e9;
    const Estimate e = estimate_training(r, cpu(ram), unit_fit());
    ASSERT_FALSE(e.fits);
    bool has_gc = false;
    for (const auto& s : e.suggestions)
        has_gc = has_gc || s.change == "gradient_checkpointing: true";
    EXPECT_TRUE(has_gc);
}

TEST(Estimator, CatalogGpuTimeIsALowerBoundWithItsCost) {
    const auto catalog = load_hardware_catalog();
    const HardwareProfile a100 = find_hardware("lambda/gpu_1x_a100", catalog, "/nonexistent");
    EstimateRequest r = qwen_request(false);
    r.weight_bytes = 2;
    const Estimate e = estimate_training(r, a100, unit_fit());
    EXPECT_TRUE(e.time_lower_bound);
    EXPECT_NEAR(e.total_s, (e.train_flops + e.eval_flops) / 312e12, 1e-9 * e.total_s);
    ASSERT_TRUE(e.cost_usd.has_value());
    EXPECT_NEAR(*e.cost_usd, e.total_s / 3600 * *a100.price_per_hour, 1e-12);
    // No materialized T x T scores on a GPU; no host runtime either.
    EXPECT_EQ(e.memory.attention_transient, 0);
    EXPECT_EQ(e.memory.runtime, 0);
}

TEST(Estimator, RequestJsonRoundTrips) {
    EstimateRequest r = qwen_request(false);
    r.valid_rows = rows(3, 100);
    const auto j = estimate_request_to_json(r);
    const EstimateRequest back = estimate_request_from_json(json::parse(j.dump()), "test");
    const Estimate a = estimate_training(r, cpu(1000), unit_fit());
    const Estimate b = estimate_training(back, cpu(1000), unit_fit());
    EXPECT_EQ(a.train_flops, b.train_flops);
    EXPECT_EQ(a.memory.peak, b.memory.peak);
    EXPECT_THROW(estimate_request_from_json(json{{"model", 1}}, "bad"), Error);
}

TEST(Estimator, RowsFromTokenStats) {
    const auto plain = rows_from_token_stats(10, 100.4, 0.5, 64, false);
    ASSERT_EQ(plain.size(), 10u);
    EXPECT_EQ(plain[0].tokens, 64);  // truncated to max_seq_len
    const auto packed = rows_from_token_stats(10, 30, 0.5, 64, true);
    EXPECT_EQ(packed.size(), 5u);  // 300 tokens in rows of 64
    EXPECT_THROW(rows_from_token_stats(0, 10, 0.5, 64, false), Error);
}

TEST(HardwareCatalog, BuiltInCatalogHasTheRequiredFamiliesAndSourcedPrices) {
    const auto catalog = load_hardware_catalog();
    for (const char* name : {"aws-sagemaker/ml.g5.xlarge", "aws-sagemaker/ml.g6.xlarge",
                             "aws-sagemaker/ml.p4d.24xlarge", "aws-sagemaker/ml.p5.48xlarge"})
        EXPECT_NO_THROW(find_hardware(name, catalog, "/nonexistent")) << name;
    int priced = 0;
    for (const auto& h : catalog) {
        EXPECT_GT(h.accelerator_memory_bytes, 0) << h.name;
        if (h.price_per_hour) {
            ++priced;
            EXPECT_EQ(h.price_source.rfind("https://", 0), 0u) << h.name;
            EXPECT_EQ(h.price_date.size(), 10u) << h.name;
        }
    }
    EXPECT_GT(priced, 0);
    // The SageMaker families carry their cited prices (data/hardware_catalog.yaml's header).
    for (const char* name : {"aws-sagemaker/ml.g5.2xlarge", "aws-sagemaker/ml.g6.2xlarge",
                             "aws-sagemaker/ml.p4d.24xlarge"})
        EXPECT_TRUE(find_hardware(name, catalog, "/nonexistent").price_per_hour) << name;
    // The short name works when unique.
    EXPECT_EQ(find_hardware("ml.p5.48xlarge", catalog, "/x").accelerator_count, 8);
}

TEST(HardwareCatalog, UnknownNamesListTheKnownOnes) {
    const auto catalog = load_hardware_catalog();
    try {
        find_hardware("ml.g99.huge", catalog, "/nonexistent");
        FAIL() << "expected not_found";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::not_found);
        EXPECT_NE(e.hint().find("aws-sagemaker/ml.g5.xlarge"), std::string::npos);
    }
    try {
        find_hardware("local", catalog, "/nonexistent-data-dir");
        FAIL() << "expected not_found";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::not_found);
        EXPECT_NE(e.hint().find("llmtune bench device"), std::string::npos);
    }
}

TEST(HardwareCatalog, MalformedCatalogsAreRefusedWithEveryProblem) {
    auto problems = [](const std::string& yaml) -> std::string {
        try {
            parse_hardware_catalog(yaml, "cat.yaml");
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
            return e.message();
        }
        return "";
    };
    EXPECT_NE(problems("instances: [a: b").find("not valid YAML"), std::string::npos);
    EXPECT_NE(problems("machines: []").find("instances"), std::string::npos);
    const std::string msg = problems(R"(instances:
  - name: x
    provider: p
    accelerator: g
    accelerator_count: 1
    accelerator_memory_gb: -3
    price_per_hour_usd: 2
    colour: red
  - name: x
    provider: p
    accelerator: g
    accelerator_count: two
    accelerator_memory_gb: 16
    price_per_hour_usd: 1
    price_source: https://example.com
    price_date: last week
)");
    EXPECT_NE(msg.find("instances[0].accelerator_memory_gb: must be > 0"), std::string::npos) << msg;
    EXPECT_NE(msg.find("instances[0]: a price needs price_source"), std::string::npos) << msg;
    EXPECT_NE(msg.find("instances[0].colour: unknown key"), std::string::npos) << msg;
    EXPECT_NE(msg.find("instances[1].accelerator_count: must be a number"), std::string::npos) << msg;
    EXPECT_NE(msg.find("instances[1].price_date: must be YYYY-MM-DD"), std::string::npos) << msg;
    EXPECT_NE(msg.find("instances[1].name: duplicate 'x'"), std::string::npos) << msg;
}

TEST(HardwareProfile, LocalProfileRoundTripsThroughTheDataDir) {
    TempDir dir;
    HardwareProfile p = cpu(16);
    p.name = "local";
    p.threads = 2;
    p.measured_at = "2026-11-28T00:00:00Z";
    save_local_profile(dir.path(), p);
    const HardwareProfile back = load_local_profile(dir.path());
    EXPECT_DOUBLE_EQ(back.flops_f32, p.flops_f32);
    EXPECT_DOUBLE_EQ(back.memory_bandwidth, p.memory_bandwidth);
    EXPECT_DOUBLE_EQ(back.runtime_bytes, p.runtime_bytes);
    EXPECT_EQ(back.threads, 2);
    write_file(local_profile_path(dir.path()), "{\"flops_f32\": \"fast\"}");
    EXPECT_THROW(load_local_profile(dir.path()), Error);
}

TEST(HardwareProfile, DataDirPrecedence) {
    EXPECT_EQ(resolve_data_dir("/flag"), "/flag");
    setenv("LLMTUNE_DATA_DIR", "/env", 1);
    EXPECT_EQ(resolve_data_dir(""), "/env");
    unsetenv("LLMTUNE_DATA_DIR");
    EXPECT_EQ(resolve_data_dir(""), "./llmtune-data");
}

}  // namespace
}  // namespace llmtune::train
