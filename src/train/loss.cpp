// causal_lm_loss: the hidden states of the batch, then the fused, chunked lm_head +
// cross-entropy of train/lm_head_loss_kernels.h over the positions that have a target.
//
// Legend for shape comments: B rows, T positions, N target positions, H hidden size, V vocab.
#include "train/loss.h"

#include "common/error.h"
#include "train/lm_head_loss_kernels.h"

namespace llmtune::train {

LossSums causal_lm_loss(model::CausalLM& lm, const Batch& batch) {
    LLMTUNE_ASSERT(batch.input_ids.dim() == 2, "input_ids must be (B, T)");
    LLMTUNE_ASSERT(batch.targets.sizes() == batch.input_ids.sizes(),
                   "targets must have the shape of input_ids");
    model::ForwardArgs args;
    args.input_ids = batch.input_ids;
    args.position_ids = batch.position_ids;
    args.attention_bias = batch.attention_bias;
    auto h = lm->hidden_states(args);  // (B, T, H)
    const int64_t hidden = h.size(-1);

    // Only positions with a target need logits.
    auto flat_targets = batch.targets.reshape({-1}).to(h.device());  // (B*T)
    auto index = (flat_targets != -100).nonzero().squeeze(1);       // (N)
    auto hs = h.reshape({-1, hidden}).index_select(0, index);       // (N, H)
    auto targets = flat_targets.index_select(0, index);             // (N)
    const int64_t n = targets.size(0);
    LLMTUNE_ASSERT(batch.target_tokens == n,
                   "batch.target_tokens (" + std::to_string(batch.target_tokens) +
                       ") differs from the targets != -100 (" + std::to_string(n) + ")");
    const auto w = lm->lm_head_weight();  // (V, H)
    if (n > 0) {
        const int64_t lo = targets.min().item<int64_t>(), hi = targets.max().item<int64_t>();
        LLMTUNE_ASSERT(lo >= 0 && hi < w.size(0),
                       "target ids must be -100 or in [0, vocab_size), got " +
                           std::to_string(lo) + ".." + std::to_string(hi));
    }
    auto fused = lm_head_cross_entropy(hs, w, targets);
    LossSums sums;
    sums.loss_sum = fused.loss_sum;
    sums.correct = fused.correct;
    sums.tokens = n;
    return sums;
}

}  // namespace llmtune::train
