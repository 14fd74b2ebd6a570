#include "infer/model_cache.h"

#include <torch/torch.h>

#include "common/error.h"
#include "infer/generator.h"
#include "model/loader.h"
#include "model/peft_adapter.h"

namespace llmtune::infer {

std::shared_ptr<LoadedModel> ModelCache::load(const ModelRef& ref) {
    auto m = std::make_shared<LoadedModel>();
    m->ref = ref;
    m->config = model::load_model_config(ref.model_dir);
    m->tok = tokenizer::Tokenizer::load(ref.model_dir);
    try {
        m->chat_template = std::make_shared<tokenizer::ChatTemplate>(
            tokenizer::ChatTemplate::from_tokenizer_config(ref.model_dir));
    } catch (const Error& e) {
        if (e.kind() != ErrorKind::not_found) throw;  // no template: chat is refused per request
    }
    tokenizer::load_special_tokens(ref.model_dir, m->special);
    model::LoadOptions lo;
    lo.dtype = m->config.torch_dtype == "bfloat16" ? torch::kBFloat16 : torch::kFloat32;
    m->lm = model::load_causal_lm(ref.model_dir, lo);
    if (!ref.adapter_dir.empty()) model::load_peft_adapter(ref.adapter_dir, m->lm);
    m->lm->eval();
    m->eos_ids = load_eos_ids(ref.model_dir, m->config);
    for (const auto& p : m->lm->parameters())
        m->bytes += static_cast<uint64_t>(p.numel()) * p.element_size();
    return m;
}

std::shared_ptr<LoadedModel> ModelCache::get(const ModelRef& ref) {
    auto same = [&](const std::shared_ptr<LoadedModel>& m) {
        return m->ref.model_dir == ref.model_dir && m->ref.adapter_dir == ref.adapter_dir;
    };
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto it = lru_.begin(); it != lru_.end(); ++it)
            if (same(*it)) {
                auto m = *it;
                lru_.erase(it);
                lru_.push_front(m);
                return m;
            }
    }
    auto loaded = load(ref);  // outside the lock: other models keep serving
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& m : lru_)
        if (same(m)) return m;  // loaded meanwhile by another request
    lru_.push_front(loaded);
    uint64_t total = 0;
    for (const auto& m : lru_) total += m->bytes;
    while (total > budget_ && lru_.size() > 1) {
        total -= lru_.back()->bytes;
        lru_.pop_back();
    }
    return loaded;
}

uint64_t ModelCache::resident_bytes() const {
    std::lock_guard<std::mutex> lock(mutex_);
    uint64_t total = 0;
    for (const auto& m : lru_) total += m->bytes;
    return total;
}

}  // namespace llmtune::infer
