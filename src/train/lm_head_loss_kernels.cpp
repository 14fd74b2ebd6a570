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
// Legend for shape comments: N target positions, C positions in a chunk, H hidden size,
// V vocab.
#include "train/lm_head_loss_kernels.h"

#include <algorithm>

#include "common/error.h"

namespace llmtune::train {

namespace {

// Rows per chunk: about 16M logits (64 MB in f32) per chunk whatever the vocabulary.
int64_t chunk_rows(int64_t vocab) {
    return std::max<int64_t>(16, (int64_t{1} << 24) / std::max<int64_t>(vocab, 1));
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
            auto logits = torch::matmul(hc, w.t()).to(torch::kFloat32);  // (C, V) f32
            auto lse = torch::logsumexp(logits, 1, /*keepdim=*/true);     // (C, 1)
            loss += (lse - logits.gather(1, tc)).sum();
            correct += (logits.argmax(1, /*keepdim=*/true) == tc).sum();
            if (!grad_h && !grad_w) continue;
            // d loss_sum / d logits = softmax - onehot(target), in place over the logits.
            auto g = logits.sub_(lse).exp_();
            g.scatter_add_(1, tc, torch::full({c, 1}, -1.0f, g.options()));
            auto gm = g.to(h.scalar_type());  // (C, V) model dtype, as autograd's cast would be
            if (grad_h) dh.narrow(0, start, c).copy_(torch::matmul(gm, w));  // (C, H)
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
