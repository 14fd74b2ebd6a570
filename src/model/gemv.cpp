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

// y[r] = dot(W[r, :], x) for r in [begin, end), four rows at a time so each load of x
// serves four weight rows. Products of two bf16 values are exact in f32; sums are f32.
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void gemv_bf16_rows(
    const uint16_t* w, const uint16_t* x, float* y, int64_t begin, int64_t end, int64_t in) {
    const int64_t in32 = in / 32 * 32;
    auto tail = [&](int64_t r) {
        float s = 0;
        for (int64_t i = in32; i < in; ++i) s += bf16_to_float(w[r * in + i]) * bf16_to_float(x[i]);
        return s;
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
        y[r] = _mm512_reduce_add_ps(a0) + tail(r);
        y[r + 1] = _mm512_reduce_add_ps(a1) + tail(r + 1);
        y[r + 2] = _mm512_reduce_add_ps(a2) + tail(r + 2);
        y[r + 3] = _mm512_reduce_add_ps(a3) + tail(r + 3);
    }
    for (; r < end; ++r) {
        __m512 a = _mm512_setzero_ps();
        for (int64_t i = 0; i < in32; i += 32)
            a = _mm512_dpbf16_ps(a, (__m512bh)_mm512_loadu_si512(w + r * in + i),
                                 (__m512bh)_mm512_loadu_si512(x + i));
        y[r] = _mm512_reduce_add_ps(a) + tail(r);
    }
}

}  // namespace

bool cpu_has_avx512_bf16() {
    static const bool has = __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw");
    return has;
}

bool can_use_single_row_linear(const torch::Tensor& x, const torch::Tensor& weight) {
    if (!x.device().is_cpu() || x.scalar_type() != weight.scalar_type()) return false;
    if (x.numel() != x.size(-1) || weight.dim() != 2 || x.size(-1) != weight.size(1)) return false;
    if (torch::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad())) return false;
    if (x.scalar_type() == torch::kFloat32) return true;
    return x.scalar_type() == torch::kBFloat16 && cpu_has_avx512_bf16();
}

torch::Tensor linear_single_row(const torch::Tensor& x, const torch::Tensor& weight,
                                const torch::Tensor& bias) {
    auto out_shape = x.sizes().vec();
    out_shape.back() = weight.size(0);
    auto xv = x.reshape({x.size(-1)});
    if (x.scalar_type() == torch::kFloat32) {
        auto y = bias.defined() ? torch::addmv(bias, weight, xv) : torch::mv(weight, xv);
        return y.view(out_shape);
    }
    auto w = weight.contiguous();
    auto xc = xv.contiguous();
    const int64_t rows = w.size(0), in = w.size(1);
    auto y = torch::empty({rows}, torch::kFloat32);
    auto* wp = reinterpret_cast<const uint16_t*>(w.data_ptr<at::BFloat16>());
    auto* xp = reinterpret_cast<const uint16_t*>(xc.data_ptr<at::BFloat16>());
    float* yp = y.data_ptr<float>();
    // Grain of 64 rows: enough work per task that threads are not woken for tiny matrices.
    at::parallel_for(0, rows, 64, [&](int64_t b, int64_t e) { gemv_bf16_rows(wp, xp, yp, b, e, in); });
    if (bias.defined()) y.add_(bias.to(torch::kFloat32));
    return y.to(torch::kBFloat16).view(out_shape);
}

}  // namespace llmtune::model
