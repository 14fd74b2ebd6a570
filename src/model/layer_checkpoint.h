// Gradient checkpointing of decoder layers: a layer's activations are not kept for backward;
// backward runs the layer's forward again, with the same inputs and the same random draws, and
// differentiates that.
//
// The checkpointed forward runs without recording autograd, yet must compute exactly what the
// recorded forward computes: dropout is drawn (LinearImpl draws it only "when training with
// gradients") and no inference-only kernel is taken. in_checkpointed_forward() tells the
// decoder's modules that this is such a forward.
//
// Random draws: the state of the default generator of the input's device is saved before the
// forward and restored for the recomputation, and the state that backward found is put back
// after it, so a run's draws are the same with and without checkpointing.
//
// Legend for shape comments: B batch, T positions, H hidden size, hd head_dim.
#pragma once

#include <torch/torch.h>

namespace llmtune::model {

class DecoderLayerImpl;

// True on this thread while a checkpointed layer runs its forward without autograd.
bool in_checkpointed_forward();

// layer(x, cos, sin, bias) with no KV cache, its activations dropped and recomputed in
// backward. x (B, T, H); cos/sin (B, 1, T, hd); bias additive or undefined. The gradients flow
// to x and to every parameter of the layer that requires grad.
torch::Tensor checkpointed_layer_forward(const std::shared_ptr<DecoderLayerImpl>& layer,
                                         const torch::Tensor& x, const torch::Tensor& cos,
                                         const torch::Tensor& sin, const torch::Tensor& bias);

}  // namespace llmtune::model
