#include "dist/bucketed_sync.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <string>

#include "common/error.h"

namespace llmtune::dist {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Runs after the gradient accumulator has added this backward's gradient into .grad.
class ReadyHook final : public torch::autograd::FunctionPostHook {
  public:
    ReadyHook(DistributedSync* sync, size_t index) : sync_(sync), index_(index) {}
    torch::autograd::variable_list operator()(
        const torch::autograd::variable_list& outputs,
        const torch::autograd::variable_list& /*inputs*/) override {
        sync_->on_gradient_ready(index_);
        return outputs;
    }

  private:
    DistributedSync* sync_;
    size_t index_;
};

}  // namespace

SyncOptions sync_options_from_process() {
    SyncOptions o;
    if (const char* v = std::getenv("LLMTUNE_DIST_BUCKET_MB")) {
        char* end = nullptr;
        const double mb = std::strtod(v, &end);
        if (!*v || *end || !std::isfinite(mb) || mb <= 0 || mb > 65536)
            throw_invalid(std::string("LLMTUNE_DIST_BUCKET_MB='") + v +
                              "' is not a size in MiB in (0, 65536]",
                          "unset it for the default 25");
        o.bucket_bytes = std::max<int64_t>(1, static_cast<int64_t>(mb * 1024 * 1024));
    }
    if (const char* v = std::getenv("LLMTUNE_DIST_OVERLAP")) {
        const std::string s = v;
        if (s != "0" && s != "1")
            throw_invalid("LLMTUNE_DIST_OVERLAP='" + s + "' must be 0 or 1",
                          "unset it for the default 1 (all-reduce during backward)");
        o.overlap = s == "1";
    }
    return o;
}

struct DistributedSync::Bucket {
    std::vector<size_t> params;  // indices into params_
    torch::Dtype dtype = torch::kFloat32;
    int64_t numel = 0;  // gradient elements; the flags follow
    size_t ready = 0;
    bool launched = false;
    torch::Tensor buffer;  // (numel + params.size())
    PendingWork work;
};

DistributedSync::DistributedSync(ProcessGroup& group, SyncOptions options)
    : group_(group), options_(options) {}

DistributedSync::~DistributedSync() {
    for (size_t i = 0; i < accumulators_.size(); ++i)
        accumulators_[i]->del_post_hook(hook_keys_[i]);
}

void DistributedSync::register_parameters(const std::vector<torch::Tensor>& params) {
    LLMTUNE_ASSERT(params_.empty(), "parameters are registered once");
    params_ = params;
    bucket_of_.assign(params_.size(), 0);
    ready_.assign(params_.size(), false);
    // Reverse order: roughly the order backward finishes the gradients.
    for (size_t k = params_.size(); k-- > 0;) {
        const auto& p = params_[k];
        const int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
        Bucket* cur = buckets_.empty() ? nullptr : buckets_.back().get();
        if (!cur || cur->dtype != p.scalar_type() ||
            (cur->numel > 0 &&
             (cur->numel * static_cast<int64_t>(p.element_size()) + bytes) >
                 options_.bucket_bytes)) {
            buckets_.push_back(std::make_unique<Bucket>());
            cur = buckets_.back().get();
            cur->dtype = p.scalar_type();
        }
        cur->params.push_back(k);
        cur->numel += p.numel();
        bucket_of_[k] = buckets_.size() - 1;
    }
    if (!options_.overlap) return;
    for (size_t k = 0; k < params_.size(); ++k) {
        const auto& p = params_[k];
        if (!p.requires_grad() || !p.is_leaf()) continue;  // never ready by hook: end of step
        auto acc = torch::autograd::impl::grad_accumulator(p);
        if (!acc) continue;
        hook_keys_.push_back(acc->add_post_hook(std::make_unique<ReadyHook>(this, k)));
        accumulators_.push_back(std::move(acc));
    }
}

std::vector<std::vector<size_t>> DistributedSync::bucket_layout() const {
    std::vector<std::vector<size_t>> out;
    for (const auto& b : buckets_)
        out.push_back(b->params);
    return out;
}

void DistributedSync::before_last_backward() {
    armed_ = options_.overlap && !params_.empty();
}

void DistributedSync::on_gradient_ready(size_t k) {
    if (!armed_) return;  // an earlier micro-batch's backward: nothing is final yet
    Bucket& b = *buckets_[bucket_of_[k]];
    // A gradient accumulated again after its bucket left would be summed stale.
    LLMTUNE_ASSERT(!b.launched, "a parameter's gradient became ready twice in one backward");
    if (ready_[k]) return;
    ready_[k] = true;
    ++b.ready;
    launch_ready_buckets();
}

void DistributedSync::launch_ready_buckets() {
    while (next_launch_ < buckets_.size() &&
           buckets_[next_launch_]->ready == buckets_[next_launch_]->params.size()) {
        launch(*buckets_[next_launch_]);
        ++stats_.buckets_launched_in_backward;
        ++next_launch_;
    }
}

void DistributedSync::launch(Bucket& b) {
    torch::NoGradGuard no_grad;
    const auto n = static_cast<int64_t>(b.params.size());
    b.buffer = torch::empty({b.numel + n}, torch::TensorOptions().dtype(b.dtype).device(
                                               group_.device()));
    int64_t offset = 0;
    auto flags = b.buffer.narrow(0, b.numel, n);
    for (int64_t j = 0; j < n; ++j) {
        const auto& p = params_[b.params[static_cast<size_t>(j)]];
        auto slot = b.buffer.narrow(0, offset, p.numel());
        const auto& g = p.grad();
        if (g.defined()) {
            slot.copy_(g.reshape({-1}));
            flags[j].fill_(1);
        } else {
            slot.zero_();
            flags[j].fill_(0);
        }
        offset += p.numel();
    }
    b.work = group_.all_reduce_sum_async(b.buffer, "the gradient all-reduce");
    b.launched = true;
    ++stats_.buckets_launched;
}

void DistributedSync::all_reduce_gradients(const std::vector<torch::Tensor>& /*grads*/) {
    // The registered parameters, not `grads`, define the collectives: a rank's list of defined
    // gradients may differ from another's, the sequence of all-reduces may not.
    LLMTUNE_ASSERT(!params_.empty() || buckets_.empty(),
                   "register_parameters comes before the first step");
    const auto t0 = Clock::now();
    armed_ = false;
    while (next_launch_ < buckets_.size())
        launch(*buckets_[next_launch_++]);
    torch::NoGradGuard no_grad;
    for (auto& bp : buckets_) {
        Bucket& b = *bp;
        b.work.wait();
        const auto n = static_cast<int64_t>(b.params.size());
        const torch::Tensor flags = b.buffer.narrow(0, b.numel, n).to(torch::kCPU, torch::kFloat32);
        const float* f = flags.data_ptr<float>();
        int64_t offset = 0;
        for (int64_t j = 0; j < n; ++j) {
            auto& p = params_[b.params[static_cast<size_t>(j)]];
            auto sum = b.buffer.narrow(0, offset, p.numel()).view(p.sizes());
            offset += p.numel();
            if (f[j] == 0) continue;  // no rank has a gradient: it stays undefined
            if (p.grad().defined())
                p.mutable_grad().copy_(sum);
            else
                p.mutable_grad() = sum.clone();
        }
        b.buffer = torch::Tensor();
        b.ready = 0;
        b.launched = false;
    }
    std::fill(ready_.begin(), ready_.end(), false);
    next_launch_ = 0;
    ++stats_.gradient_syncs;
    stats_.exposed_comm_s += seconds_since(t0);
}

double DistributedSync::all_reduce_sum(double local) {
    const auto t0 = Clock::now();
    auto t = torch::full({1}, local, torch::TensorOptions().dtype(torch::kFloat64).device(
                                         group_.device()));
    group_.all_reduce_sum(t, "an all-reduce of the step's sums");
    const double v = t.to(torch::kCPU).item<double>();
    stats_.exposed_comm_s += seconds_since(t0);
    return v;
}

void DistributedSync::barrier() {
    group_.barrier("a barrier");
}

void DistributedSync::broadcast_from_rank0(torch::Tensor& t) {
    torch::NoGradGuard no_grad;
    if (t.is_contiguous() && t.device() == group_.device()) {
        group_.broadcast_from_rank0(t, "a broadcast from rank 0");
        return;
    }
    auto tmp = t.to(group_.device()).contiguous();
    group_.broadcast_from_rank0(tmp, "a broadcast from rank 0");
    t.copy_(tmp);
}

}  // namespace llmtune::dist
