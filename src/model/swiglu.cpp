#include "model/swiglu.h"

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

LLMTUNE_AVX512 inline __m512 vsigmoid(__m512 g) {
    const __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(one, _mm512_add_ps(one, simd::exp(_mm512_sub_ps(_mm512_setzero_ps(), g))));
}

// out = g * sigmoid(g) * u over [begin, end).
template <typename T>
void forward_scalar(const T* g, const T* u, T* out, int64_t begin, int64_t end) {
    for (int64_t j = begin; j < end; ++j) {
        const float x = get(g, j);
        put(out, j, x / (1.0f + std::exp(-x)) * get(u, j));
    }
}

template <typename T>
LLMTUNE_AVX512 void forward_avx512(const T* g, const T* u, T* out, int64_t begin, int64_t end) {
    for (int64_t j = begin; j < end; j += 16) {
        const int64_t n = std::min<int64_t>(16, end - j);
        const __m512 x = vget(g, j, n);
        vput(out, j, _mm512_mul_ps(_mm512_mul_ps(x, vsigmoid(x)), vget(u, j, n)), n);
    }
}

// With s = sigmoid(g): d up = d out * g s; d gate = d out * u * s (1 + g (1 - s)).
template <typename T>
void backward_scalar(const T* g, const T* u, const T* d, T* dg, T* du, int64_t begin, int64_t end) {
    for (int64_t j = begin; j < end; ++j) {
        const float x = get(g, j), s = 1.0f / (1.0f + std::exp(-x)), dj = get(d, j);
        put(du, j, dj * x * s);
        put(dg, j, dj * get(u, j) * s * (1.0f + x * (1.0f - s)));
    }
}

template <typename T>
LLMTUNE_AVX512 void backward_avx512(const T* g, const T* u, const T* d, T* dg, T* du, int64_t begin,
                                    int64_t end) {
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int64_t j = begin; j < end; j += 16) {
        const int64_t n = std::min<int64_t>(16, end - j);
        const __m512 x = vget(g, j, n), s = vsigmoid(x), dj = vget(d, j, n);
        vput(du, j, _mm512_mul_ps(dj, _mm512_mul_ps(x, s)), n);
        const __m512 inner = _mm512_fmadd_ps(x, _mm512_sub_ps(one, s), one);  // 1 + g (1 - s)
        vput(dg, j, _mm512_mul_ps(_mm512_mul_ps(dj, vget(u, j, n)), _mm512_mul_ps(s, inner)), n);
    }
}

constexpr int64_t kGrain = 1 << 14;  // elements per parallel task

template <typename T>
void run_forward(const torch::Tensor& g, const torch::Tensor& u, torch::Tensor& out) {
    const T* gp = g.data_ptr<T>();
    const T* up = u.data_ptr<T>();
    T* op = out.data_ptr<T>();
    const bool avx = detail::use_avx512_kernels();
    at::parallel_for(0, g.numel(), kGrain, [&](int64_t begin, int64_t end) {
        if (avx)
            forward_avx512(gp, up, op, begin, end);
        else
            forward_scalar(gp, up, op, begin, end);
    });
}

template <typename T>
void run_backward(const torch::Tensor& g, const torch::Tensor& u, const torch::Tensor& d,
                  torch::Tensor& dg, torch::Tensor& du) {
    const T* gp = g.data_ptr<T>();
    const T* up = u.data_ptr<T>();
    const T* dp = d.data_ptr<T>();
    T* dgp = dg.data_ptr<T>();
    T* dup = du.data_ptr<T>();
    const bool avx = detail::use_avx512_kernels();
    at::parallel_for(0, g.numel(), kGrain, [&](int64_t begin, int64_t end) {
        if (avx)
            backward_avx512(gp, up, dp, dgp, dup, begin, end);
        else
            backward_scalar(gp, up, dp, dgp, dup, begin, end);
    });
}

struct SwiGlu : public torch::autograd::Function<SwiGlu> {
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& gate,
                                 const torch::Tensor& up) {
        auto out = torch::empty_like(gate);
        if (gate.scalar_type() == torch::kBFloat16)
            run_forward<at::BFloat16>(gate, up, out);
        else
            run_forward<float>(gate, up, out);
        ctx->save_for_backward({gate, up});
        return out;
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::variable_list grad_out) {
        const auto saved = ctx->get_saved_variables();
        const auto& gate = saved[0];
        const auto& up = saved[1];
        if (!grad_out[0].defined()) return {torch::Tensor(), torch::Tensor()};
        const auto d = grad_out[0].to(gate.scalar_type()).contiguous();
        auto dg = torch::empty_like(gate), du = torch::empty_like(up);
        if (gate.scalar_type() == torch::kBFloat16)
            run_backward<at::BFloat16>(gate, up, d, dg, du);
        else
            run_backward<float>(gate, up, d, dg, du);
        return {dg, du};
    }
};

}  // namespace

bool swiglu_supports(const torch::Tensor& gate, const torch::Tensor& up) {
    return gate.device().is_cpu() && up.device().is_cpu() &&
           gate.scalar_type() == up.scalar_type() &&
           (gate.scalar_type() == torch::kBFloat16 || gate.scalar_type() == torch::kFloat32) &&
           gate.sizes() == up.sizes();
}

torch::Tensor swiglu(const torch::Tensor& gate, const torch::Tensor& up) {
    LLMTUNE_ASSERT(swiglu_supports(gate, up), "swiglu: gate and up must match (bf16 or f32)");
    return SwiGlu::apply(gate.contiguous(), up.contiguous());
}

}  // namespace llmtune::model
