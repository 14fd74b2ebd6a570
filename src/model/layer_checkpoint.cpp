#include "model/layer_checkpoint.h"

#include <mutex>

#include "common/error.h"
#include "model/decoder.h"

namespace llmtune::model {

namespace {

thread_local bool checkpointed_forward_active = false;

// Sets the flag for a scope (restoring the previous value, so nesting is harmless).
class CheckpointedForwardScope {
  public:
    CheckpointedForwardScope() : previous_(checkpointed_forward_active) {
        checkpointed_forward_active = true;
    }
    ~CheckpointedForwardScope() { checkpointed_forward_active = previous_; }

  private:
    bool previous_;
};

at::Generator default_generator(const torch::Device& device) {
    return at::globalContext().defaultGenerator(device);
}

torch::Tensor generator_state(const torch::Device& device) {
    auto gen = default_generator(device);
    std::lock_guard<std::mutex> lock(gen.mutex());
    return gen.get_state();
}

void set_generator_state(const torch::Device& device, const torch::Tensor& state) {
    auto gen = default_generator(device);
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(state);
}

// What backward needs besides the saved x: the layer, the non-differentiable inputs and the
// generator state the forward started from.
struct CheckpointState : torch::CustomClassHolder {
    std::shared_ptr<DecoderLayerImpl> layer;
    torch::Tensor cos, sin, bias, rng_state;
};

struct CheckpointedLayer : public torch::autograd::Function<CheckpointedLayer> {
    // params: the layer's parameters that require grad, so that autograd routes their
    // gradients through this node (the forward itself records nothing).
    static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                  const torch::Tensor& x,
                                                  torch::TensorList params,
                                                  c10::intrusive_ptr<CheckpointState> state) {
        state->rng_state = generator_state(x.device());
        torch::Tensor y;
        {
            CheckpointedForwardScope scope;
            y = state->layer->forward(x, state->cos, state->sin, state->bias, nullptr, 0);
        }
        ctx->save_for_backward({x});
        ctx->saved_data["state"] = c10::IValue::make_capsule(state);
        ctx->saved_data["params"] = static_cast<int64_t>(params.size());
        return {y};
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::variable_list grad_out) {
        auto state = ctx->saved_data["state"].toCapsule();
        auto* s = static_cast<CheckpointState*>(state.get());
        const auto n_params = ctx->saved_data["params"].toInt();
        auto x = ctx->get_saved_variables()[0].detach().requires_grad_(ctx->needs_input_grad(0));
        std::vector<torch::Tensor> params;
        for (const auto& p : s->layer->parameters())
            if (p.requires_grad()) params.push_back(p);
        LLMTUNE_ASSERT(static_cast<int64_t>(params.size()) == n_params,
                       "the layer's trainable parameters changed between forward and backward");

        // Replay the forward's random draws, then give back the state backward found.
        const auto device = x.device();
        auto current = generator_state(device);
        set_generator_state(device, s->rng_state);
        torch::Tensor y;
        {
            torch::AutoGradMode enable_grad(true);
            y = s->layer->forward(x, s->cos, s->sin, s->bias, nullptr, 0);
        }
        set_generator_state(device, current);

        std::vector<torch::Tensor> inputs;
        if (x.requires_grad()) inputs.push_back(x);
        inputs.insert(inputs.end(), params.begin(), params.end());
        torch::autograd::variable_list grads;
        if (!inputs.empty() && y.requires_grad())
            grads = torch::autograd::grad({y}, inputs, {grad_out[0]}, /*retain_graph=*/false,
                                          /*create_graph=*/false, /*allow_unused=*/true);
        // One entry per forward argument slot: x, each parameter, the state.
        torch::autograd::variable_list out;
        size_t next = 0;
        out.push_back(x.requires_grad() && !grads.empty() ? grads[next++] : torch::Tensor());
        for (size_t i = 0; i < params.size(); ++i)
            out.push_back(grads.empty() ? torch::Tensor() : grads[next++]);
        out.push_back(torch::Tensor());
        return out;
    }
};

}  // namespace

bool in_checkpointed_forward() {
    return checkpointed_forward_active;
}

torch::Tensor checkpointed_layer_forward(const std::shared_ptr<DecoderLayerImpl>& layer,
                                         const torch::Tensor& x, const torch::Tensor& cos,
                                         const torch::Tensor& sin, const torch::Tensor& bias) {
    auto state = c10::make_intrusive<CheckpointState>();
    state->layer = layer;
    state->cos = cos;
    state->sin = sin;
    state->bias = bias;
    std::vector<torch::Tensor> params;
    for (const auto& p : layer->parameters())
        if (p.requires_grad()) params.push_back(p);
    return CheckpointedLayer::apply(x, torch::TensorList(params), state)[0];
}

}  // namespace llmtune::model
