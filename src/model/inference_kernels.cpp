#include "model/inference_kernels.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <cstring>
#include <vector>

namespace llmtune::model {

namespace {

// Rounds a float to the storage type T and back, as storing an intermediate tensor would.
template <typename T>
float round_as(float v) {
    return static_cast<float>(static_cast<T>(v));
}

template <typename T>
void rms_norm_rows(const torch::Tensor& x, const torch::Tensor& w, torch::Tensor& out, double eps) {
    const int64_t d = x.size(-1), rows = x.numel() / d;
    const T* xp = x.data_ptr<T>();
    const T* wp = w.data_ptr<T>();
    T* op = out.data_ptr<T>();
    at::parallel_for(0, rows, 16, [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) {
            const T* xr = xp + r * d;
            float ss = 0;
            for (int64_t i = 0; i < d; ++i)
                ss += static_cast<float>(xr[i]) * static_cast<float>(xr[i]);
            const float inv =
                1.0f / std::sqrt(ss / static_cast<float>(d) + static_cast<float>(eps));
            for (int64_t i = 0; i < d; ++i)
                op[r * d + i] = static_cast<T>(static_cast<float>(wp[i]) *
                                               round_as<T>(static_cast<float>(xr[i]) * inv));
        }
    });
}

template <typename T>
void rope_rows(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
               torch::Tensor& out) {
    const int64_t B = x.size(0), n = x.size(1), T_ = x.size(2), hd = x.size(3), half = hd / 2;
    auto xs = x.strides();
    auto cs = cos.strides();
    const T* xp = x.data_ptr<T>();
    const T* cp = cos.data_ptr<T>();
    const T* sp = sin.data_ptr<T>();
    T* op = out.data_ptr<T>();
    at::parallel_for(0, B * n * T_, 64, [&](int64_t b0, int64_t e0) {
        for (int64_t idx = b0; idx < e0; ++idx) {
            const int64_t b = idx / (n * T_), h = (idx / T_) % n, t = idx % T_;
            const T* xr = xp + b * xs[0] + h * xs[1] + t * xs[2];
            const T* c = cp + b * cs[0] + t * cs[2];
            const T* s = sp + b * cs[0] + t * cs[2];
            T* o = op + idx * hd;
            for (int64_t i = 0; i < hd; ++i) {
                float xi = static_cast<float>(xr[i * xs[3]]);
                float rot = i < half ? -static_cast<float>(xr[(i + half) * xs[3]])
                                     : static_cast<float>(xr[(i - half) * xs[3]]);
                float a = round_as<T>(xi * static_cast<float>(c[i * cs[3]]));
                float bb = round_as<T>(rot * static_cast<float>(s[i * cs[3]]));
                o[i] = static_cast<T>(a + bb);
            }
        }
    });
}

// Vector helpers for the attention kernel. target_clones compiles each for AVX-512, AVX2 and
// the baseline and picks one at load time; the 16 independent partial sums let the compiler
// vectorize the dot product without reassociating floating-point adds.
#define LLMTUNE_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

LLMTUNE_SIMD_CLONES float dot(const float* a, const float* b, int64_t n) {
    float acc[16] = {};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int l = 0; l < 16; ++l)
            acc[l] += a[i + l] * b[i + l];
    float s = 0;
    for (int l = 0; l < 16; ++l)
        s += acc[l];
    for (; i < n; ++i)
        s += a[i] * b[i];
    return s;
}

LLMTUNE_SIMD_CLONES void axpy(float p, const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
        y[i] += p * x[i];
}

LLMTUNE_SIMD_CLONES void bf16_to_float(const uint16_t* src, float* dst, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        uint32_t u = static_cast<uint32_t>(src[i]) << 16;
        std::memcpy(dst + i, &u, sizeof(float));
    }
}

void row_to_float(const float* src, float* dst, int64_t n) {
    std::memcpy(dst, src, n * sizeof(float));
}
void row_to_float(const at::BFloat16* src, float* dst, int64_t n) {
    bf16_to_float(reinterpret_cast<const uint16_t*>(src), dst, n);
}

// One task per (batch, kv head): its g query heads share every key and value row, so each row
// is converted to float once and used g times.
template <typename T>
void attention_one_query(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                         double scale, torch::Tensor& out) {
    const int64_t B = q.size(0), nh = q.size(1), hd = q.size(3);
    const int64_t nkv = k.size(1), S = k.size(2), g = nh / nkv;
    auto qs = q.strides(), ks = k.strides(), vs = v.strides();
    const T* qp = q.data_ptr<T>();
    const T* kp = k.data_ptr<T>();
    const T* vp = v.data_ptr<T>();
    T* op = out.data_ptr<T>();
    at::parallel_for(0, B * nkv, 1, [&](int64_t b0, int64_t e0) {
        std::vector<float> qf(g * hd), row(hd), scores(g * S), acc(g * hd);
        for (int64_t task = b0; task < e0; ++task) {
            const int64_t b = task / nkv, kvh = task % nkv;
            for (int64_t j = 0; j < g; ++j) {
                const T* qr = qp + b * qs[0] + (kvh * g + j) * qs[1];
                for (int64_t i = 0; i < hd; ++i)
                    qf[j * hd + i] = static_cast<float>(qr[i * qs[3]]);
            }
            const T* kb = kp + b * ks[0] + kvh * ks[1];
            const T* vb = vp + b * vs[0] + kvh * vs[1];
            for (int64_t s = 0; s < S; ++s) {
                row_to_float(kb + s * ks[2], row.data(), hd);
                for (int64_t j = 0; j < g; ++j)
                    scores[j * S + s] =
                        dot(qf.data() + j * hd, row.data(), hd) * static_cast<float>(scale);
            }
            for (int64_t j = 0; j < g; ++j) {  // softmax per query head
                float* sc = scores.data() + j * S;
                float mx = -INFINITY, sum = 0;
                for (int64_t s = 0; s < S; ++s)
                    mx = std::max(mx, sc[s]);
                for (int64_t s = 0; s < S; ++s)
                    sum += sc[s] = std::exp(sc[s] - mx);
                for (int64_t s = 0; s < S; ++s)
                    sc[s] /= sum;
            }
            std::fill(acc.begin(), acc.end(), 0.0f);
            for (int64_t s = 0; s < S; ++s) {
                row_to_float(vb + s * vs[2], row.data(), hd);
                for (int64_t j = 0; j < g; ++j)
                    axpy(scores[j * S + s], row.data(), acc.data() + j * hd, hd);
            }
            for (int64_t j = 0; j < g; ++j) {
                T* o = op + (b * nh + kvh * g + j) * hd;
                for (int64_t i = 0; i < hd; ++i)
                    o[i] = static_cast<T>(acc[j * hd + i]);
            }
        }
    });
}

template <typename F>
void dispatch(torch::ScalarType st, F&& f) {
    if (st == torch::kFloat32)
        f(float{});
    else
        f(at::BFloat16{});
}

}  // namespace

bool use_inference_kernels(const torch::Tensor& x) {
    if (!x.device().is_cpu()) return false;
    if (x.scalar_type() != torch::kFloat32 && x.scalar_type() != torch::kBFloat16) return false;
    return !torch::GradMode::is_enabled();
}

torch::Tensor rms_norm_inference(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
    auto xc = x.contiguous();
    auto w = weight.contiguous();
    auto out = torch::empty_like(xc);
    dispatch(x.scalar_type(), [&](auto tag) { rms_norm_rows<decltype(tag)>(xc, w, out, eps); });
    return out;
}

torch::Tensor rope_inference(const torch::Tensor& x, const torch::Tensor& cos,
                             const torch::Tensor& sin) {
    auto out = torch::empty(x.sizes(), x.options());
    dispatch(x.scalar_type(), [&](auto tag) { rope_rows<decltype(tag)>(x, cos, sin, out); });
    return out;
}

torch::Tensor single_query_attention(const torch::Tensor& q, const torch::Tensor& k,
                                     const torch::Tensor& v, double scale) {
    auto out = torch::empty({q.size(0), q.size(1), 1, q.size(3)}, q.options());
    dispatch(q.scalar_type(),
             [&](auto tag) { attention_one_query<decltype(tag)>(q, k, v, scale, out); });
    return out;
}

}  // namespace llmtune::model
