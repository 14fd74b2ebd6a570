// The causal language-modelling loss of a batch, summed (not averaged) so that gradient
// accumulation can divide by the token count of the whole optimizer step, as transformers
// does with num_items_in_batch.
#pragma once

#include <torch/torch.h>

#include "model/decoder.h"
#include "train/batch.h"

namespace llmtune::train {

struct LossSums {
    torch::Tensor loss_sum;  // scalar f32 with grad: sum over targets of cross-entropy
    torch::Tensor correct;   // scalar int64, no grad: targets equal to the argmax logit
    int64_t tokens = 0;      // number of targets (batch.target_tokens)
};

// Runs the model on the batch and returns the summed loss. Memory: the logits are never held
// for the whole batch at once (chunked lm_head + cross-entropy).
LossSums causal_lm_loss(model::CausalLM& lm, const Batch& batch);

}  // namespace llmtune::train
