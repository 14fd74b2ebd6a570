// lm_head + cross-entropy fused and chunked over the target positions, so the (N, V) logits
// exist one chunk at a time.
//
// Why a custom autograd Function rather than a loop of torch::linear + cross_entropy: under
// autograd every chunk's log-softmax output (chunk, V) f32 would be saved for backward, so
// chunking alone would still hold all N x V logits. Here forward computes, per chunk, the loss
// and (when a gradient is wanted) the gradients with respect to the hidden states and the
// lm_head weight right away -- d loss / d logits = softmax - onehot -- and keeps only those,
// (N, H) and (V, H). Backward just scales them by the incoming scalar gradient, so nothing is
// recomputed.
//
// Precision follows the unfused reference (logits = lm_head(h) in the model dtype, .float(),
// cross_entropy in f32): the chunk's logits are rounded to the model dtype before the f32
// softmax, and d loss / d logits is rounded to the model dtype before the matmuls that
// autograd's linear backward would do.
//
// Speed: the softmax part is one row kernel (softmax_xent_rows) instead of a dozen torch ops
// (cast to f32, logsumexp = amax + sub + exp + sum + log, gather, argmax, exp, scatter, cast
// back), which each read and wrote the whole (C, V) chunk; the gradient overwrites the logits
// in place, in the model dtype.
//
// Legend for shape comments: N target positions, C positions in a chunk, H hidden size,
// V vocab.
#include "train/lm_head_loss_kernels.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "common/error.h"
#include "model/simd_math.h"

namespace llmtune::train {

namespace {

// Rows per chunk: about 16M logits (64 MB in f32) per chunk whatever the vocabulary.
int64_t chunk_rows(int64_t vocab) {
    return std::max<int64_t>(16, (int64_t{1} << 24) / std::max<int64_t>(vocab, 1));
}

// Per row r of `logits` (C, V), contiguous, in the model dtype T, with f32 arithmetic:
//   loss[r]   = logsumexp(row) - row[target[r]]
//   argmax[r] = the first index of the largest logit
// and, when write_grad, the row overwritten with d loss[r] / d row = exp(row - lse) - onehot,
// rounded to T.
//
// bf16 rows on AVX-512 (model/simd_math.h): the same three passes 16 lanes at a time, the sum
// in f32 lanes. Returns false, having written nothing, for a row holding a NaN: the scalar
// loop then applies torch's argmax rule.
LLMTUNE_AVX512 bool softmax_xent_row_avx512(at::BFloat16* row_bf16, int64_t v, int64_t t,
                                            float* loss, int64_t* argmax, bool write_grad) {
    using namespace model::simd;
    auto* row = reinterpret_cast<uint16_t*>(row_bf16);
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    __m512i vidx = _mm512_setzero_si512();
    __mmask16 nan = 0;
    for (int64_t j = 0; j < v; j += 16) {
        const int64_t n = std::min<int64_t>(16, v - j);
        const __m512 x = load_bf16(row + j, n);
        // Strictly greater: each lane keeps its first index of its largest value.
        const __mmask16 gt = _mm512_cmp_ps_mask(x, vmax, _CMP_GT_OQ) & lanes(n);
        vmax = _mm512_mask_mov_ps(vmax, gt, x);
        vidx = _mm512_mask_mov_epi32(vidx, gt,
                                     _mm512_add_epi32(iota, _mm512_set1_epi32(static_cast<int>(j))));
        nan |= _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q) & lanes(n);
    }
    if (nan) return false;
    const float best = _mm512_reduce_max_ps(vmax);
    const __mmask16 at_best = _mm512_cmp_ps_mask(vmax, _mm512_set1_ps(best), _CMP_EQ_OQ);
    const int64_t best_j = _mm512_mask_reduce_min_epi32(at_best, vidx);
    const __m512 vbest = _mm512_set1_ps(best);
    __m512 vsum = _mm512_setzero_ps();
    for (int64_t j = 0; j < v; j += 16) {
        const int64_t n = std::min<int64_t>(16, v - j);
        const __m512 e = model::simd::exp(_mm512_sub_ps(load_bf16(row + j, n), vbest));
        vsum = _mm512_mask_add_ps(vsum, lanes(n), vsum, e);
    }
    const float lse = best + std::log(_mm512_reduce_add_ps(vsum));
    const float x_t = static_cast<float>(row_bf16[t]);
    *loss = lse - x_t;
    *argmax = best_j;
    if (!write_grad) return true;
    const float p_t = std::exp(x_t - lse);
    const __m512 vlse = _mm512_set1_ps(lse);
    for (int64_t j = 0; j < v; j += 16) {
        const int64_t n = std::min<int64_t>(16, v - j);
        store_bf16(row + j, model::simd::exp(_mm512_sub_ps(load_bf16(row + j, n), vlse)), n);
    }
    row_bf16[t] = static_cast<at::BFloat16>(p_t - 1.0f);  // rounded once, as the reference does
    return true;
}

template <typename T>
void softmax_xent_rows(T* logits, int64_t c, int64_t v, const int64_t* targets, float* loss,
                       int64_t* argmax, bool write_grad) {
    const bool avx = std::is_same_v<T, at::BFloat16> && model::simd::cpu_has_avx512();
    at::parallel_for(0, c, 1, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
            T* row = logits + r * v;
            if constexpr (std::is_same_v<T, at::BFloat16>) {
                if (avx && softmax_xent_row_avx512(row, v, targets[r], loss + r, argmax + r,
                                                   write_grad))
                    continue;
            }
            float best = -INFINITY;
            int64_t best_j = 0;
            for (int64_t j = 0; j < v; ++j) {
                const float x = static_cast<float>(row[j]);
                if (x > best || std::isnan(x)) {
                    best = x;
                    best_j = j;
                    if (std::isnan(x)) break;  // torch's argmax: NaN wins
                }
            }
            double sum = 0;
            for (int64_t j = 0; j < v; ++j)
                sum += std::exp(static_cast<float>(row[j]) - best);
            const float lse = best + static_cast<float>(std::log(sum));
            const int64_t t = targets[r];
            loss[r] = lse - static_cast<float>(row[t]);
            argmax[r] = best_j;
            if (!write_grad) continue;
            const float p_t = std::exp(static_cast<float>(row[t]) - lse);
            for (int64_t j = 0; j < v; ++j)
                row[j] = static_cast<T>(std::exp(static_cast<float>(row[j]) - lse));
            row[t] = static_cast<T>(p_t - 1.0f);  // rounded once, as the reference does
        }
    });
}

// The same per-row results with torch ops, for logits the row kernel cannot read: on a GPU
// (its data is not addressable from the CPU) or in another dtype (f64). Each op reads and
// writes the whole (C, V) chunk, which is why the CPU path has its own kernel.
void softmax_xent_rows_torch(torch::Tensor& logits, const torch::Tensor& tc,
                             torch::Tensor& row_loss, torch::Tensor& row_argmax,
                             bool write_grad) {
    auto lf = logits.scalar_type() == torch::kFloat64 ? logits : logits.to(torch::kFloat32);
    auto lse = torch::logsumexp(lf, 1, /*keepdim=*/true);  // (C, 1)
    auto x_t = lf.gather(1, tc);                       // (C, 1)
    row_loss = (lse - x_t).squeeze(1).to(torch::kFloat32);
    row_argmax = lf.argmax(1);
    if (!write_grad) return;
    auto grad = torch::exp(lf - lse);
    grad.scatter_(1, tc, torch::exp(x_t - lse) - 1);  // rounded once, as the reference does
    logits.copy_(grad);
}

struct LmHeadCrossEntropy : public torch::autograd::Function<LmHeadCrossEntropy> {
    // h (N, H) and w (V, H) in the model dtype; targets (N) int64, all in [0, V).
    // Returns {loss_sum (scalar f32), correct (scalar int64, not differentiable)}.
    static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                  const torch::Tensor& h, const torch::Tensor& w,
                                                  const torch::Tensor& targets, int64_t rows,
                                                  bool grad_h, bool grad_w) {
        const int64_t n = h.size(0);
        auto loss = torch::zeros({}, h.options().dtype(torch::kFloat32));
        auto correct = torch::zeros({}, h.options().dtype(torch::kInt64));
        torch::Tensor dh, dw;  // (N, H) model dtype; (V, H) f32 accumulator
        if (grad_h) dh = torch::empty_like(h);
        if (grad_w) dw = torch::zeros(w.sizes(), w.options().dtype(torch::kFloat32));
        for (int64_t start = 0; start < n; start += rows) {
            const int64_t c = std::min(rows, n - start);
            auto hc = h.narrow(0, start, c);                              // (C, H)
            auto tc = targets.narrow(0, start, c).unsqueeze(1);           // (C, 1)
            auto logits = torch::matmul(hc, w.t()).contiguous();          // (C, V) model dtype
            auto row_loss = torch::empty({c}, h.options().dtype(torch::kFloat32));
            auto row_argmax = torch::empty({c}, h.options().dtype(torch::kInt64));
            const bool write_grad = grad_h || grad_w;
            auto tptr = tc.contiguous();
            if (!logits.is_cpu() || logits.scalar_type() == torch::kFloat64)
                softmax_xent_rows_torch(logits, tptr, row_loss, row_argmax, write_grad);
            else if (logits.scalar_type() == torch::kBFloat16)
                softmax_xent_rows(logits.data_ptr<at::BFloat16>(), c, logits.size(1),
                                  tptr.data_ptr<int64_t>(), row_loss.data_ptr<float>(),
                                  row_argmax.data_ptr<int64_t>(), write_grad);
            else if (logits.scalar_type() == torch::kFloat32)
                softmax_xent_rows(logits.data_ptr<float>(), c, logits.size(1),
                                  tptr.data_ptr<int64_t>(), row_loss.data_ptr<float>(),
                                  row_argmax.data_ptr<int64_t>(), write_grad);
            else
                throw Error(ErrorKind::invalid_input,
                            "the training loss supports f32 and bf16 models (and f64)",
                            "load the model with --dtype f32 or bf16");
            loss += row_loss.sum();
            correct += (row_argmax == tc.squeeze(1)).sum();
            if (!write_grad) continue;
            auto& gm = logits;  // (C, V) model dtype, now d loss / d logits
            if (grad_h) {
                auto dhc = dh.narrow(0, start, c);  // (C, H), contiguous rows
                torch::mm_out(dhc, gm, w);
            }
            if (grad_w) {
                if (dw.scalar_type() == gm.scalar_type())
                    dw.addmm_(gm.t(), hc);  // (V, C) @ (C, H)
                else
                    dw.add_(torch::matmul(gm.t(), hc));
            }
        }
        if (grad_w) dw = dw.to(w.scalar_type());
        ctx->saved_data["dh"] = dh;
        ctx->saved_data["dw"] = dw;
        ctx->mark_non_differentiable({correct});
        return {loss, correct};
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::variable_list grad_out) {
        auto dh = ctx->saved_data["dh"].toTensor();
        auto dw = ctx->saved_data["dw"].toTensor();
        const auto& go = grad_out[0];  // scalar f32: d objective / d loss_sum
        LLMTUNE_ASSERT(!ctx->needs_input_grad(0) || dh.defined(),
                       "h gradient not prepared in forward");
        LLMTUNE_ASSERT(!ctx->needs_input_grad(1) || dw.defined(),
                       "lm_head gradient not prepared in forward");
        torch::Tensor gh, gw;
        if (ctx->needs_input_grad(0) && go.defined()) gh = dh * go.to(dh.scalar_type());
        if (ctx->needs_input_grad(1) && go.defined()) gw = dw * go.to(dw.scalar_type());
        return {gh, gw, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
    }
};

}  // namespace

LmHeadLoss lm_head_cross_entropy(const torch::Tensor& h, const torch::Tensor& w,
                                 const torch::Tensor& targets, int64_t rows) {
    LLMTUNE_ASSERT(h.dim() == 2 && w.dim() == 2 && h.size(1) == w.size(1),
                   "h (N, H) and w (V, H) expected");
    LLMTUNE_ASSERT(targets.dim() == 1 && targets.size(0) == h.size(0), "targets (N) expected");
    LLMTUNE_ASSERT(rows >= 0, "chunk rows must be >= 0");
    const bool grad = torch::GradMode::is_enabled();
    auto out = LmHeadCrossEntropy::apply(h, w, targets, rows > 0 ? rows : chunk_rows(w.size(0)),
                                         grad && h.requires_grad(), grad && w.requires_grad());
    return {out[0], out[1]};
}

}  // namespace llmtune::train
