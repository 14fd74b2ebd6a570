// AVX-512 helpers for the training kernels (model/fused_softmax.cpp, model/swiglu.cpp): bf16
// loads and stores, and exp, 16 floats at a time. Each is compiled for AVX-512 only (target
// attribute) and called only after cpu_has_avx512() said yes; the callers keep a scalar path
// for other CPUs.
#pragma once

#include <c10/util/BFloat16.h>
#include <immintrin.h>

#include <cstdint>

#define LLMTUNE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))

namespace llmtune::model::simd {

inline bool cpu_has_avx512() {
    static const bool yes =
        __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    return yes;
}

// The first n (<= 16) lanes.
LLMTUNE_AVX512 inline __mmask16 lanes(int64_t n) {
    return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
}

// n (<= 16) bf16 values widened to f32 (exact); the other lanes are 0.
LLMTUNE_AVX512 inline __m512 load_bf16(const uint16_t* p, int64_t n) {
    const __m256i h = _mm256_maskz_loadu_epi16(lanes(n), p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

// f32 -> bf16 rounded to nearest even, as c10::BFloat16's constructor (NaN -> 0x7FC0).
LLMTUNE_AVX512 inline void store_bf16(uint16_t* p, __m512 v, int64_t n) {
    const __m512i i = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(i, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(
        _mm512_add_epi32(_mm512_add_epi32(i, _mm512_set1_epi32(0x7FFF)), lsb), 16);
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    r = _mm512_mask_mov_epi32(r, nan, _mm512_set1_epi32(0x7FC0));
    _mm256_mask_storeu_epi16(p, lanes(n), _mm512_cvtepi32_epi16(r));
}

LLMTUNE_AVX512 inline __m512 load_f32(const float* p, int64_t n) {
    return _mm512_maskz_loadu_ps(lanes(n), p);
}
LLMTUNE_AVX512 inline void store_f32(float* p, __m512 v, int64_t n) {
    _mm512_mask_storeu_ps(p, lanes(n), v);
}

// e^x, relative error about 2e-7 over the f32 range (Cephes' expf polynomial on
// x - n ln 2, |.| <= ln2 / 2, then scaled by 2^n); 0 below -104, +inf above 88.8, NaN stays.
LLMTUNE_AVX512 inline __m512 exp(__m512 x) {
    const __m512 lo = _mm512_set1_ps(-104.0f), hi = _mm512_set1_ps(88.8f);
    // max/min return their second operand on NaN, so keep x's NaN lanes by masking.
    const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    __m512 c = _mm512_min_ps(_mm512_max_ps(x, lo), hi);
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(c, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), c);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    __m512 y = _mm512_scalef_ps(p, n);
    y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, hi, _CMP_GT_OQ),
                           _mm512_set1_ps(__builtin_inff()));
    return _mm512_mask_mov_ps(y, nan, x);
}

// Element access in f32 for the two dtypes the kernels take, scalar (get/put) and 16 lanes
// (vget/vput, the first n lanes; the others read as 0 and are not written).
inline float get(const float* p, int64_t j) {
    return p[j];
}
inline float get(const c10::BFloat16* p, int64_t j) {
    return static_cast<float>(p[j]);
}
inline void put(float* p, int64_t j, float v) {
    p[j] = v;
}
inline void put(c10::BFloat16* p, int64_t j, float v) {
    p[j] = static_cast<c10::BFloat16>(v);
}
LLMTUNE_AVX512 inline __m512 vget(const float* p, int64_t j, int64_t n) {
    return load_f32(p + j, n);
}
LLMTUNE_AVX512 inline __m512 vget(const c10::BFloat16* p, int64_t j, int64_t n) {
    return load_bf16(reinterpret_cast<const uint16_t*>(p) + j, n);
}
LLMTUNE_AVX512 inline void vput(float* p, int64_t j, __m512 v, int64_t n) {
    store_f32(p + j, v, n);
}
LLMTUNE_AVX512 inline void vput(c10::BFloat16* p, int64_t j, __m512 v, int64_t n) {
    store_bf16(reinterpret_cast<uint16_t*>(p) + j, v, n);
}

}  // namespace llmtune::model::simd
