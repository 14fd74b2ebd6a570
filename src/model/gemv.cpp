#include "model/gemv.h"

#include <ATen/Parallel.h>
#include <immintrin.h>

#include <cstring>

namespace llmtune::model {

namespace {

float bf16_to_float(uint16_t h) {
    uint32_t u = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

// Horizontal sum; a function of its own because lambdas do not inherit target attributes.
__attribute__((target("avx512f"))) float hsum(__m512 v) {
    return _mm512_reduce_add_ps(v);
}

// Both kernels compute y[r] = dot(W[r, :], x) (+ bias[r]) for r in [begin, end), four rows at
// a time so each load of x serves four weight rows, and write y in the weight's dtype.

// f32: fused multiply-adds over 16 lanes.
__attribute__((target("avx512f"))) void gemv_f32_rows(const float* w, const float* x,
                                                      const float* bias, float* y, int64_t begin,
                                                      int64_t end, int64_t in) {
    const int64_t in16 = in / 16 * 16;
    auto finish = [&](int64_t r, float s) {
        for (int64_t i = in16; i < in; ++i)
            s += w[r * in + i] * x[i];
        y[r] = bias ? s + bias[r] : s;
    };
    int64_t r = begin;
    for (; r + 4 <= end; r += 4) {
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
        const float* w0 = w + r * in;
        for (int64_t i = 0; i < in16; i += 16) {
            __m512 xv = _mm512_loadu_ps(x + i);
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + i), xv, a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + in + i), xv, a1);
            a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + 2 * in + i), xv, a2);
            a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + 3 * in + i), xv, a3);
        }
        finish(r, hsum(a0));
        finish(r + 1, hsum(a1));
        finish(r + 2, hsum(a2));
        finish(r + 3, hsum(a3));
    }
    for (; r < end; ++r) {
        __m512 a = _mm512_setzero_ps();
        for (int64_t i = 0; i < in16; i += 16)
            a = _mm512_fmadd_ps(_mm512_loadu_ps(w + r * in + i), _mm512_loadu_ps(x + i), a);
        finish(r, hsum(a));
    }
}

// bf16: AVX512-BF16 dot products of 32 pairs; products of two bf16 values are exact in f32
// and sums are f32, as in torch's bf16 matmul. The result is rounded to bf16 once.
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void gemv_bf16_rows(
    const uint16_t* w, const uint16_t* x, const uint16_t* bias, at::BFloat16* y, int64_t begin,
    int64_t end, int64_t in) {
    const int64_t in32 = in / 32 * 32;
    auto finish = [&](int64_t r, float s) {
        for (int64_t i = in32; i < in; ++i)
            s += bf16_to_float(w[r * in + i]) * bf16_to_float(x[i]);
        // torch adds the bias after rounding the product to bf16; so do we.
        at::BFloat16 out(s);
        y[r] = bias ? at::BFloat16(static_cast<float>(out) + bf16_to_float(bias[r])) : out;
    };
    int64_t r = begin;
    for (; r + 4 <= end; r += 4) {
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
        const uint16_t* w0 = w + r * in;
        for (int64_t i = 0; i < in32; i += 32) {
            __m512bh xv = (__m512bh)_mm512_loadu_si512(x + i);
            a0 = _mm512_dpbf16_ps(a0, (__m512bh)_mm512_loadu_si512(w0 + i), xv);
            a1 = _mm512_dpbf16_ps(a1, (__m512bh)_mm512_loadu_si512(w0 + in + i), xv);
            a2 = _mm512_dpbf16_ps(a2, (__m512bh)_mm512_loadu_si512(w0 + 2 * in + i), xv);
            a3 = _mm512_dpbf16_ps(a3, (__m512bh)_mm512_loadu_si512(w0 + 3 * in + i), xv);
        }
        finish(r, hsum(a0));
        finish(r + 1, hsum(a1));
        finish(r + 2, hsum(a2));
        finish(r + 3, hsum(a3));
    }
    for (; r < end; ++r) {
        __m512 a = _mm512_setzero_ps();
        for (int64_t i = 0; i < in32; i += 32)
            a = _mm512_dpbf16_ps(a, (__m512bh)_mm512_loadu_si512(w + r * in + i),
                                 (__m512bh)_mm512_loadu_si512(x + i));
        finish(r, hsum(a));
    }
}

// Rows per task: enough work that threads are not woken for a handful of rows.
constexpr int64_t kGrainRows = 64;

}  // namespace

bool cpu_has_avx512_bf16() {
    static const bool has =
        __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw");
    return has;
}

bool can_use_single_row_linear(const torch::Tensor& x, const torch::Tensor& weight) {
    if (!x.device().is_cpu() || x.scalar_type() != weight.scalar_type()) return false;
    if (x.numel() != x.size(-1) || weight.dim() != 2 || x.size(-1) != weight.size(1)) return false;
    if (torch::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad()))
        return false;
    if (x.scalar_type() == torch::kFloat32) return true;
    return x.scalar_type() == torch::kBFloat16 && cpu_has_avx512_bf16();
}

torch::Tensor linear_single_row(const torch::Tensor& x, const torch::Tensor& weight,
                                const torch::Tensor& bias) {
    auto out_shape = x.sizes().vec();
    out_shape.back() = weight.size(0);
    auto xv = x.reshape({x.size(-1)}).contiguous();
    auto w = weight.contiguous();
    auto b = bias.defined() ? bias.contiguous() : bias;
    const int64_t rows = w.size(0), in = w.size(1);
    auto y = torch::empty({rows}, w.options());
    if (w.scalar_type() == torch::kFloat32) {
        if (!__builtin_cpu_supports("avx512f"))
            return (b.defined() ? torch::addmv(b, w, xv) : torch::mv(w, xv)).view(out_shape);
        const float* bp = b.defined() ? b.data_ptr<float>() : nullptr;
        at::parallel_for(0, rows, kGrainRows, [&](int64_t s, int64_t e) {
            gemv_f32_rows(w.data_ptr<float>(), xv.data_ptr<float>(), bp, y.data_ptr<float>(), s, e,
                          in);
        });
        return y.view(out_shape);
    }
    auto as_u16 = [](const torch::Tensor& t) {
        return reinterpret_cast<const uint16_t*>(t.data_ptr<at::BFloat16>());
    };
    const uint16_t* bp = b.defined() ? as_u16(b) : nullptr;
    at::parallel_for(0, rows, kGrainRows, [&](int64_t s, int64_t e) {
        gemv_bf16_rows(as_u16(w), as_u16(xv), bp, y.data_ptr<at::BFloat16>(), s, e, in);
    });
    return y.view(out_shape);
}

}  // namespace llmtune::model
