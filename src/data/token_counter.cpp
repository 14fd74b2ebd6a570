#include "data/token_counter.h"

#include "common/error.h"
#include "data/chat_encoding.h"
#include "tokenizer/jinja/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace llmtune::data {

TokenCounter::TokenCounter(const std::string& model_dir) : model_dir_(model_dir) {
    tokenizer_ = tokenizer::Tokenizer::load(model_dir);
    base_inputs_ = std::make_unique<tokenizer::ChatTemplateInputs>();
    try {
        template_ = std::make_unique<tokenizer::ChatTemplate>(
            tokenizer::ChatTemplate::from_tokenizer_config(model_dir));
        tokenizer::load_special_tokens(model_dir, *base_inputs_);
    } catch (const Error& e) {
        if (e.kind() != ErrorKind::not_found)
            throw;  // no template: only text records can be counted
    }
}

TokenCounter::~TokenCounter() = default;

int64_t TokenCounter::chat_tokens(const ordered_json& messages, const ordered_json& tools,
                                  bool generation_prompt) const {
    tokenizer::ChatTemplateInputs in = *base_inputs_;
    in.messages = messages;
    in.add_generation_prompt = generation_prompt;
    if (!tools.is_null()) in.tools = tools;
    return static_cast<int64_t>(tokenizer_->encode(template_->render(in), false).size());
}

// Tokens of prompt + messages, and the trainable tokens of the assistant messages in `messages`
// (and in `prompt` when `messages` is empty: then the whole conversation is in `prompt`).
TokenCounter::Count TokenCounter::chat(const ordered_json& prompt, const ordered_json& messages,
                                       const ordered_json& tools) const {
    if (!template_)
        throw_invalid(
            model_dir_ +
                " has no chat template, so chat records cannot be tokenized as training would",
            "use a model with a chat_template in tokenizer_config.json, or drop --model");
    ordered_json all = prompt;
    for (const auto& m : messages)
        all.push_back(m);
    size_t first_trainable = messages.empty() ? 0 : prompt.size();
    Count c;
    c.tokens = chat_tokens(all, tools, false);
    for (size_t i = first_trainable; i < all.size(); ++i) {
        const auto& m = all[i];
        if (m.value("role", "") != "assistant" || m.value("weight", 1) == 0) continue;
        ordered_json before(ordered_json::array()), through(ordered_json::array());
        for (size_t k = 0; k < i; ++k)
            before.push_back(all[k]);
        through = before;
        through.push_back(m);
        int64_t gained = chat_tokens(through, tools, false) - chat_tokens(before, tools, true);
        if (gained > 0) c.trainable += gained;
    }
    return c;
}

TokenCounter::Count TokenCounter::count(const CanonicalRecord& record) const {
    const ordered_json& v = record.value;
    ordered_json tools = v.contains("tools") ? v["tools"] : ordered_json();
    switch (record.kind) {
        case RecordKind::text: {
            int64_t n = static_cast<int64_t>(
                encode_text_record(*tokenizer_, v["text"].get<std::string>()).size());
            return {n, n};
        }
        case RecordKind::chat:
            return chat(v["messages"], ordered_json::array(), tools);
        case RecordKind::preference:
            return chat(v["prompt"], v["chosen"], tools);
    }
    return {};
}

}  // namespace llmtune::data
