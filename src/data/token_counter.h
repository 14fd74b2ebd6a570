// TokenCounter: how many tokens a canonical record becomes with a model's tokenizer, and how
// many of them are trained on.
//
// Chat records are rendered with the model's chat template (as training renders them) and
// encoded without adding special tokens, as transformers' apply_chat_template does. The
// trainable tokens of an assistant message are the tokens the conversation gains when the
// message is appended to the conversation before it (rendered with add_generation_prompt),
// so they include the template's end-of-turn tokens; messages with weight 0 count nothing.
// Text records are encoded with the tokenizer's special tokens plus the end-of-sequence token
// training appends, and every token is trainable.
// Preference records count prompt + chosen (trainable: the chosen messages).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "data/canonical_record.h"

namespace llmtune::tokenizer {
class Tokenizer;
class ChatTemplate;
struct ChatTemplateInputs;
}  // namespace llmtune::tokenizer

namespace llmtune::data {

class TokenCounter {
  public:
    // Loads the tokenizer and, when the model has one, the chat template.
    explicit TokenCounter(const std::string& model_dir);
    ~TokenCounter();

    struct Count {
        int64_t tokens = 0;
        int64_t trainable = 0;
    };
    // invalid_input when a chat record meets a model without a chat template, or the template
    // rejects the conversation (raise_exception).
    Count count(const CanonicalRecord& record) const;

  private:
    int64_t chat_tokens(const ordered_json& messages, const ordered_json& tools,
                        bool generation_prompt) const;
    Count chat(const ordered_json& prompt, const ordered_json& messages,
               const ordered_json& tools) const;

    std::string model_dir_;
    std::shared_ptr<tokenizer::Tokenizer> tokenizer_;
    std::unique_ptr<tokenizer::ChatTemplate> template_;
    std::unique_ptr<tokenizer::ChatTemplateInputs> base_inputs_;
};

}  // namespace llmtune::data
