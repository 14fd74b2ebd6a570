#include "model/fused_softmax.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#include "common/error.h"
#include "model/simd_math.h"

namespace llmtune::model {

namespace detail {
namespace {
std::atomic<bool> g_force_scalar{false};
}
void force_scalar_kernels(bool on) {
    g_force_scalar = on;
}
bool scalar_kernels_forced() {
    return g_force_scalar;
}

bool use_avx512_kernels() {
    return simd::cpu_has_avx512() && !scalar_kernels_forced();
}
}  // namespace detail

namespace {

using simd::get;
using simd::put;
using simd::vget;
using simd::vput;

// One row forward: out = softmax(in * scale + bias), buf (S) f32 scratch.
template <typename T>
void forward_row_scalar(const T* in, const float* bias, T* out, float* buf, int64_t s,
                        float scale) {
    float m = -INFINITY;
    for (int64_t j = 0; j < s; ++j) {
        const float x = get(in, j) * scale + (bias ? bias[j] : 0.0f);
        buf[j] = x;
        m = std::max(m, x);
    }
    float sum = 0;
    for (int64_t j = 0; j < s; ++j) {
        buf[j] = std::exp(buf[j] - m);
        sum += buf[j];
    }
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j < s; ++j)
        put(out, j, buf[j] * inv);
}

template <typename T>
LLMTUNE_AVX512 void forward_row_avx512(const T* in, const float* bias, T* out, float* buf,
                                       int64_t s, float scale) {
    const __m512 vs = _mm512_set1_ps(scale);
    __m512 vm = _mm512_set1_ps(-INFINITY);
    for (int64_t j = 0; j < s; j += 16) {
        const int64_t n = std::min<int64_t>(16, s - j);
        __m512 x = _mm512_mul_ps(vget(in, j, n), vs);
        if (bias) x = _mm512_add_ps(x, simd::load_f32(bias + j, n));
        simd::store_f32(buf + j, x, n);
        vm = _mm512_mask_max_ps(vm, simd::lanes(n), vm, x);
    }
    const float m = _mm512_reduce_max_ps(vm);
    const __m512 vmax = _mm512_set1_ps(m);
    __m512 vsum = _mm512_setzero_ps();
    for (int64_t j = 0; j < s; j += 16) {
        const int64_t n = std::min<int64_t>(16, s - j);
        const __m512 e = simd::exp(_mm512_sub_ps(simd::load_f32(buf + j, n), vmax));
        simd::store_f32(buf + j, e, n);
        vsum = _mm512_mask_add_ps(vsum, simd::lanes(n), vsum, e);
    }
    const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));
    for (int64_t j = 0; j < s; j += 16) {
        const int64_t n = std::min<int64_t>(16, s - j);
        vput(out, j, _mm512_mul_ps(simd::load_f32(buf + j, n), inv), n);
    }
}

// One row backward: ds = scale * p * (dp - sum(dp * p)).
template <typename T>
void backward_row_scalar(const T* p, const T* dp, T* ds, int64_t s, float scale) {
    float dot = 0;
    for (int64_t j = 0; j < s; ++j)
        dot += get(p, j) * get(dp, j);
    for (int64_t j = 0; j < s; ++j)
        put(ds, j, scale * get(p, j) * (get(dp, j) - dot));
}

template <typename T>
LLMTUNE_AVX512 void backward_row_avx512(const T* p, const T* dp, T* ds, int64_t s, float scale) {
    __m512 vdot = _mm512_setzero_ps();
    for (int64_t j = 0; j < s; j += 16) {
        const int64_t n = std::min<int64_t>(16, s - j);
        vdot = _mm512_fmadd_ps(vget(p, j, n), vget(dp, j, n), vdot);  // zero lanes past n
    }
    const __m512 dot = _mm512_set1_ps(_mm512_reduce_add_ps(vdot));
    const __m512 vs = _mm512_set1_ps(scale);
    for (int64_t j = 0; j < s; j += 16) {
        const int64_t n = std::min<int64_t>(16, s - j);
        const __m512 pj = vget(p, j, n);
        vput(ds, j, _mm512_mul_ps(_mm512_mul_ps(vs, pj), _mm512_sub_ps(vget(dp, j, n), dot)), n);
    }
}

// rows = numel / S, R rows per batch element; bias (Bb, T, S) f32 contiguous or undefined.
template <typename T>
void softmax_forward(const torch::Tensor& in, const torch::Tensor& bias, torch::Tensor& out,
                     int64_t t, float scale) {
    const int64_t s = in.size(-1), rows = in.numel() / s, r_per_b = rows / in.size(0);
    const T* ip = in.data_ptr<T>();
    T* op = out.data_ptr<T>();
    const float* bp = bias.numel() > 0 ? bias.data_ptr<float>() : nullptr;
    const bool bias_per_batch = bp && bias.size(0) > 1;
    const bool avx = detail::use_avx512_kernels();
    at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
        std::vector<float> buf(static_cast<size_t>(s));
        for (int64_t r = begin; r < end; ++r) {
            const float* brow = nullptr;
            if (bp) brow = bp + ((bias_per_batch ? r / r_per_b : 0) * t + (r % r_per_b) % t) * s;
            if (avx)
                forward_row_avx512(ip + r * s, brow, op + r * s, buf.data(), s, scale);
            else
                forward_row_scalar(ip + r * s, brow, op + r * s, buf.data(), s, scale);
        }
    });
}

template <typename T>
void softmax_backward(const torch::Tensor& p, const torch::Tensor& dp, torch::Tensor& ds,
                      float scale) {
    const int64_t s = p.size(-1), rows = p.numel() / s;
    const T* pp = p.data_ptr<T>();
    const T* dpp = dp.data_ptr<T>();
    T* dsp = ds.data_ptr<T>();
    const bool avx = detail::use_avx512_kernels();
    at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
            if (avx)
                backward_row_avx512(pp + r * s, dpp + r * s, dsp + r * s, s, scale);
            else
                backward_row_scalar(pp + r * s, dpp + r * s, dsp + r * s, s, scale);
        }
    });
}

struct ScaledMaskedSoftmax : public torch::autograd::Function<ScaledMaskedSoftmax> {
    // scores contiguous bf16/f32; bias (Bb, T, S) f32 contiguous, or empty for none (apply
    // takes no undefined tensors).
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& scores,
                                 const torch::Tensor& bias, int64_t t, double scale) {
        auto out = torch::empty_like(scores);
        if (scores.scalar_type() == torch::kBFloat16)
            softmax_forward<at::BFloat16>(scores, bias, out, t, static_cast<float>(scale));
        else
            softmax_forward<float>(scores, bias, out, t, static_cast<float>(scale));
        ctx->save_for_backward({out});
        ctx->saved_data["scale"] = scale;
        return out;
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::variable_list grad_out) {
        const auto p = ctx->get_saved_variables()[0];
        const double scale = ctx->saved_data["scale"].toDouble();
        torch::Tensor ds;
        if (grad_out[0].defined()) {
            const auto dp = grad_out[0].to(p.scalar_type()).contiguous();
            ds = torch::empty_like(p);
            if (p.scalar_type() == torch::kBFloat16)
                softmax_backward<at::BFloat16>(p, dp, ds, static_cast<float>(scale));
            else
                softmax_backward<float>(p, dp, ds, static_cast<float>(scale));
        }
        return {ds, torch::Tensor(), torch::Tensor(), torch::Tensor()};
    }
};

}  // namespace

bool scaled_masked_softmax_supports(const torch::Tensor& scores, const torch::Tensor& bias,
                                    int64_t t) {
    if (!scores.device().is_cpu() || scores.dim() < 2) return false;
    if (scores.scalar_type() != torch::kBFloat16 && scores.scalar_type() != torch::kFloat32)
        return false;
    const int64_t s = scores.size(-1);
    if (s == 0 || t <= 0 || scores.numel() == 0) return false;
    if ((scores.numel() / s / scores.size(0)) % t != 0) return false;
    if (!bias.defined()) return true;
    if (bias.requires_grad() || !bias.is_floating_point() || bias.dim() != 4) return false;
    return (bias.size(0) == 1 || bias.size(0) == scores.size(0)) && bias.size(1) == 1 &&
           bias.size(2) == t && bias.size(3) == s;
}

torch::Tensor scaled_masked_softmax(const torch::Tensor& scores, const torch::Tensor& bias,
                                    int64_t t, double scale) {
    LLMTUNE_ASSERT(scaled_masked_softmax_supports(scores, bias, t),
                   "scaled_masked_softmax: unsupported scores/bias (check _supports first)");
    auto b = torch::empty({0}, torch::kFloat32);
    if (bias.defined())
        b = bias.to(torch::kFloat32).reshape({bias.size(0), t, scores.size(-1)}).contiguous();
    return ScaledMaskedSoftmax::apply(scores.contiguous(), b, t, scale);
}

}  // namespace llmtune::model
