#include "model/fused_norm_rope.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "model/fused_softmax.h"  // detail::use_avx512_kernels
#include "model/simd_math.h"

namespace llmtune::model {

namespace {

using simd::get;
using simd::put;
using simd::vget;
using simd::vput;

// ---- RMSNorm: per row of H, r = rsqrt(mean(x^2) + eps), y = w * x * r ----

template <typename T>
float rms_forward_row_scalar(const T* x, const T* w, T* y, int64_t h, float eps) {
    float ss = 0;
    for (int64_t j = 0; j < h; ++j)
        ss += get(x, j) * get(x, j);
    const float r = 1.0f / std::sqrt(ss / static_cast<float>(h) + eps);
    for (int64_t j = 0; j < h; ++j)
        put(y, j, get(w, j) * (get(x, j) * r));
    return r;
}

template <typename T>
LLMTUNE_AVX512 float rms_forward_row_avx512(const T* x, const T* w, T* y, int64_t h, float eps) {
    __m512 ss = _mm512_setzero_ps();
    for (int64_t j = 0; j < h; j += 16) {
        const __m512 v = vget(x, j, std::min<int64_t>(16, h - j));
        ss = _mm512_fmadd_ps(v, v, ss);
    }
    const float r = 1.0f / std::sqrt(_mm512_reduce_add_ps(ss) / static_cast<float>(h) + eps);
    const __m512 vr = _mm512_set1_ps(r);
    for (int64_t j = 0; j < h; j += 16) {
        const int64_t n = std::min<int64_t>(16, h - j);
        vput(y, j, _mm512_mul_ps(vget(w, j, n), _mm512_mul_ps(vget(x, j, n), vr)), n);
    }
    return r;
}

// dx = r g - x r^3 sum(g x) / H, with g = dy * w.
template <typename T>
void rms_backward_row_scalar(const T* x, const T* w, const T* dy, T* dx, int64_t h, float r) {
    float dot = 0;
    for (int64_t j = 0; j < h; ++j)
        dot += get(dy, j) * get(w, j) * get(x, j);
    const float c = r * r * r * dot / static_cast<float>(h);
    for (int64_t j = 0; j < h; ++j)
        put(dx, j, r * get(dy, j) * get(w, j) - get(x, j) * c);
}

template <typename T>
LLMTUNE_AVX512 void rms_backward_row_avx512(const T* x, const T* w, const T* dy, T* dx, int64_t h,
                                            float r) {
    __m512 dot = _mm512_setzero_ps();
    for (int64_t j = 0; j < h; j += 16) {
        const int64_t n = std::min<int64_t>(16, h - j);
        dot = _mm512_fmadd_ps(_mm512_mul_ps(vget(dy, j, n), vget(w, j, n)), vget(x, j, n), dot);
    }
    const __m512 c = _mm512_set1_ps(r * r * r * _mm512_reduce_add_ps(dot) / static_cast<float>(h));
    const __m512 vr = _mm512_set1_ps(r);
    for (int64_t j = 0; j < h; j += 16) {
        const int64_t n = std::min<int64_t>(16, h - j);
        const __m512 g = _mm512_mul_ps(vget(dy, j, n), vget(w, j, n));
        vput(dx, j, _mm512_fnmadd_ps(vget(x, j, n), c, _mm512_mul_ps(vr, g)), n);
    }
}

template <typename T>
void rms_forward(const torch::Tensor& x, const torch::Tensor& w, torch::Tensor& y, torch::Tensor& r,
                 float eps) {
    const int64_t h = x.size(-1), rows = x.numel() / h;
    const T* xp = x.data_ptr<T>();
    const T* wp = w.data_ptr<T>();
    T* yp = y.data_ptr<T>();
    float* rp = r.data_ptr<float>();
    const bool avx = detail::use_avx512_kernels();
    at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i)
            rp[i] = avx ? rms_forward_row_avx512(xp + i * h, wp, yp + i * h, h, eps)
                        : rms_forward_row_scalar(xp + i * h, wp, yp + i * h, h, eps);
    });
}

template <typename T>
void rms_backward(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& r,
                  const torch::Tensor& dy, torch::Tensor& dx) {
    const int64_t h = x.size(-1), rows = x.numel() / h;
    const T* xp = x.data_ptr<T>();
    const T* wp = w.data_ptr<T>();
    const T* dyp = dy.data_ptr<T>();
    T* dxp = dx.data_ptr<T>();
    const float* rp = r.data_ptr<float>();
    const bool avx = detail::use_avx512_kernels();
    at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
            if (avx)
                rms_backward_row_avx512(xp + i * h, wp, dyp + i * h, dxp + i * h, h, rp[i]);
            else
                rms_backward_row_scalar(xp + i * h, wp, dyp + i * h, dxp + i * h, h, rp[i]);
        }
    });
}

struct RmsNorm : public torch::autograd::Function<RmsNorm> {
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                                 const torch::Tensor& w, double eps) {
        auto y = torch::empty_like(x);
        auto r = torch::empty({x.numel() / x.size(-1)}, x.options().dtype(torch::kFloat32));
        if (x.scalar_type() == torch::kBFloat16)
            rms_forward<at::BFloat16>(x, w, y, r, static_cast<float>(eps));
        else
            rms_forward<float>(x, w, y, r, static_cast<float>(eps));
        ctx->save_for_backward({x, w, r});
        return y;
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::variable_list grad_out) {
        const auto saved = ctx->get_saved_variables();
        torch::Tensor dx;
        if (grad_out[0].defined()) {
            const auto dy = grad_out[0].to(saved[0].scalar_type()).contiguous();
            dx = torch::empty_like(saved[0]);
            if (dx.scalar_type() == torch::kBFloat16)
                rms_backward<at::BFloat16>(saved[0], saved[1], saved[2], dy, dx);
            else
                rms_backward<float>(saved[0], saved[1], saved[2], dy, dx);
        }
        return {dx, torch::Tensor(), torch::Tensor()};
    }
};

// ---- RoPE: per row of hd (half = hd / 2), with c/s the row's cos/sin,
//   y[j]        = x[j] c[j] - x[j+half] s[j]
//   y[j+half]   = x[j+half] c[j+half] + x[j] s[j+half]
// and its transpose backward
//   dx[j]       = dy[j] c[j] + dy[j+half] s[j+half]
//   dx[j+half]  = dy[j+half] c[j+half] - dy[j] s[j] ----

// sign = -1 forward, +1 backward: out_lo = a_lo c_lo + sign a_hi s_{lo or hi}, ...
template <typename T>
void rope_row_scalar(const T* a, const T* c, const T* s, T* out, int64_t half, bool forward) {
    for (int64_t j = 0; j < half; ++j) {
        const float lo = get(a, j), hi = get(a, j + half);
        if (forward) {
            put(out, j, lo * get(c, j) - hi * get(s, j));
            put(out, j + half, hi * get(c, j + half) + lo * get(s, j + half));
        } else {
            put(out, j, lo * get(c, j) + hi * get(s, j + half));
            put(out, j + half, hi * get(c, j + half) - lo * get(s, j));
        }
    }
}

template <typename T>
LLMTUNE_AVX512 void rope_row_avx512(const T* a, const T* c, const T* s, T* out, int64_t half,
                                    bool forward) {
    for (int64_t j = 0; j < half; j += 16) {
        const int64_t n = std::min<int64_t>(16, half - j);
        const __m512 lo = vget(a, j, n), hi = vget(a, j + half, n);
        const __m512 clo = vget(c, j, n), chi = vget(c, j + half, n);
        const __m512 slo = vget(s, j, n), shi = vget(s, j + half, n);
        if (forward) {
            vput(out, j, _mm512_fnmadd_ps(hi, slo, _mm512_mul_ps(lo, clo)), n);
            vput(out, j + half, _mm512_fmadd_ps(lo, shi, _mm512_mul_ps(hi, chi)), n);
        } else {
            vput(out, j, _mm512_fmadd_ps(hi, shi, _mm512_mul_ps(lo, clo)), n);
            vput(out, j + half, _mm512_fnmadd_ps(lo, slo, _mm512_mul_ps(hi, chi)), n);
        }
    }
}

// in: (B, nh, T, hd) with in's strides (unit in hd); out contiguous (B, nh, T, hd);
// cos/sin contiguous (Bc, T, hd).
template <typename T>
void rope_run(const torch::Tensor& in, const torch::Tensor& cos, const torch::Tensor& sin,
              torch::Tensor& out, bool forward) {
    const int64_t b = in.size(0), nh = in.size(1), t = in.size(2), hd = in.size(3);
    const int64_t sb = in.stride(0), sh = in.stride(1), st = in.stride(2);
    const bool cos_per_batch = cos.size(0) > 1;
    const T* ip = in.data_ptr<T>();
    const T* cp = cos.data_ptr<T>();
    const T* sp = sin.data_ptr<T>();
    T* op = out.data_ptr<T>();
    const bool avx = detail::use_avx512_kernels();
    at::parallel_for(0, b * nh * t, 64, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
            const int64_t bi = i / (nh * t), hi = (i / t) % nh, ti = i % t;
            const T* a = ip + bi * sb + hi * sh + ti * st;
            const int64_t crow = ((cos_per_batch ? bi : 0) * t + ti) * hd;
            if (avx)
                rope_row_avx512(a, cp + crow, sp + crow, op + i * hd, hd / 2, forward);
            else
                rope_row_scalar(a, cp + crow, sp + crow, op + i * hd, hd / 2, forward);
        }
    });
}

void rope_dispatch(const torch::Tensor& in, const torch::Tensor& cos, const torch::Tensor& sin,
                   torch::Tensor& out, bool forward) {
    if (in.scalar_type() == torch::kBFloat16)
        rope_run<at::BFloat16>(in, cos, sin, out, forward);
    else
        rope_run<float>(in, cos, sin, out, forward);
}

struct RopeFn : public torch::autograd::Function<RopeFn> {
    // cos/sin contiguous (Bc, T, hd) in x's dtype.
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                                 const torch::Tensor& cos, const torch::Tensor& sin) {
        auto y = torch::empty(x.sizes(), x.options());
        rope_dispatch(x, cos, sin, y, true);
        ctx->save_for_backward({cos, sin});
        return y;
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::variable_list grad_out) {
        const auto saved = ctx->get_saved_variables();
        torch::Tensor dx;
        if (grad_out[0].defined()) {
            const auto dy = grad_out[0].to(saved[0].scalar_type()).contiguous();
            dx = torch::empty(dy.sizes(), dy.options());
            rope_dispatch(dy, saved[0], saved[1], dx, false);
        }
        return {dx, torch::Tensor(), torch::Tensor()};
    }
};

}  // namespace

bool fused_rms_norm_supports(const torch::Tensor& x, const torch::Tensor& weight) {
    return x.device().is_cpu() && x.dim() >= 1 && x.numel() > 0 &&
           (x.scalar_type() == torch::kBFloat16 || x.scalar_type() == torch::kFloat32) &&
           weight.scalar_type() == x.scalar_type() && weight.dim() == 1 &&
           weight.size(0) == x.size(-1) && !weight.requires_grad();
}

torch::Tensor fused_rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
    LLMTUNE_ASSERT(fused_rms_norm_supports(x, weight), "fused_rms_norm: unsupported arguments");
    return RmsNorm::apply(x.contiguous(), weight.contiguous(), eps);
}

bool fused_rope_supports(const torch::Tensor& x, const torch::Tensor& cos,
                         const torch::Tensor& sin) {
    if (!x.device().is_cpu() || x.dim() != 4 || x.numel() == 0 || x.stride(3) != 1) return false;
    if (x.scalar_type() != torch::kBFloat16 && x.scalar_type() != torch::kFloat32) return false;
    if (x.size(3) % 2 != 0) return false;
    for (const auto* c : {&cos, &sin})
        if (!c->defined() || c->dim() != 4 || c->scalar_type() != x.scalar_type() ||
            c->requires_grad() || (c->size(0) != 1 && c->size(0) != x.size(0)) || c->size(1) != 1 ||
            c->size(2) != x.size(2) || c->size(3) != x.size(3))
            return false;
    return true;
}

torch::Tensor fused_rope(const torch::Tensor& x, const torch::Tensor& cos,
                         const torch::Tensor& sin) {
    LLMTUNE_ASSERT(fused_rope_supports(x, cos, sin), "fused_rope: unsupported arguments");
    const int64_t t = x.size(2), hd = x.size(3);
    return RopeFn::apply(x, cos.reshape({cos.size(0), t, hd}).contiguous(),
                         sin.reshape({sin.size(0), t, hd}).contiguous());
}

}  // namespace llmtune::model
