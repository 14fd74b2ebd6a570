// ExampleEncoder: canonical records into training examples (token ids and shifted targets),
// with the model's own tokenizer and chat template.
//
// Chat records are rendered as transformers' apply_chat_template renders them (the whole
// conversation, add_generation_prompt false; "weight" keys are removed first, they are
// llmtune's annotation, not content) and the text is tokenized without adding special tokens,
// since the template writes BOS itself. By default only assistant messages are trained on. The
// span of assistant message i is found from prefix renders:
//   start = length of render(messages[:i], add_generation_prompt=true)   must prefix the full
//                                                                        render
//   end   = length of render(messages[:i+1])                             when it prefixes it
// so the span covers what the model must generate after the generation prompt: the message,
// any reasoning block the template writes, and the template's end-of-turn text (<|im_end|>\n
// for ChatML, <|eot_id|> for Llama 3, " </s>" for Llama 2), so the model learns to stop.
// Templates that render the last assistant turn differently from earlier ones (Qwen3 drops
// the <think> block of turns before the last user message) break the second property; then
// the message's end is found by rendering the conversation with a private-use sentinel appended
// to the message content, checking that removing it gives the full render back exactly, and
// adding the end-of-turn text that follows the content in render(messages[:i+1]) after
// checking it follows the content in the full render too. A message with empty content (only
// tool calls) has no place for a sentinel: its earlier-turn text must then be a suffix of its
// last-turn text (what dropping a <think> block gives). The final message gets the same check
// against the conversation continued by one user message, which catches templates that write
// the generation prompt even without add_generation_prompt (the first Llama 3 Instruct upload).
// Any other mismatch is an invalid_input error naming the record, the message and the
// template; nothing is guessed.
//
// Character spans become token positions exactly: each piece of the render between span
// boundaries is tokenized alone, and the concatenation is used only when it equals the
// tokenization of the whole text (true whenever the boundaries meet special tokens or
// pre-tokenizer splits, as with ChatML and Llama 3). Otherwise each boundary is placed by
// tokenizing the text before it (a boundary is exact when those tokens begin the whole
// tokenization) or after it (when they end it); when exactly one token of the whole
// tokenization spans the boundary, that token is trained if either side is (a token holding
// any trained character is trained, as transformers' return_assistant_tokens_mask does). The
// text before a boundary is first tokenized from the last special token before it only, since
// the tokenizer splits special tokens out first; the whole prefix is tokenized only when that
// does not match. Llama 2 (whose normalizer prepends "▁" to every piece) always takes this path.
//
// Cost: two renders of growing prefixes per assistant message (quadratic in turns) plus one to
// three tokenizations of the text. Measured on a loaded 2-core machine: a 4-turn ~4k-token
// record takes 3-4 ms (Qwen3, Llama 3) and 11 ms (Llama 2), 3-4x one render and tokenization.
//
// Text records (continued pretraining) are tokenized with the tokenizer's special tokens (BOS
// for Llama, as transformers' tokenizer(text) does) and EOS is appended when the tokenizer has
// one and the text does not already end with it (as TRL's SFTTrainer does for language-modelling
// data), so documents are separated by EOS when packed. Every token is trained on.
//
// Truncation keeps the first max_seq_len tokens (before shifting, as transformers truncates
// input_ids and labels together), and records how many were cut. An example left without
// any target (everything trained was cut, or nothing was trainable) comes back with
// target_count() == 0: the caller counts and drops it.
//
// Preference records are refused: supervised fine-tuning has no use for a rejected answer.
//
// Thread safety: encode() is const and may be called from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/canonical_record.h"
#include "data/training_example.h"

namespace llmtune::tokenizer {
class Tokenizer;
class ChatTemplate;
struct ChatTemplateInputs;
}  // namespace llmtune::tokenizer

namespace llmtune::data {

struct EncodeOptions {
    int64_t max_seq_len = 2048;    // tokens kept per example, >= 1
    bool train_on_inputs = false;  // true: train on every token, prompts included
    bool honour_weights = true;    // assistant messages with "weight": 0 get no loss (also
                                   // with train_on_inputs)
};

class ExampleEncoder {
  public:
    // Loads the tokenizer and, when the model has one, the chat template and special tokens.
    // A model without a chat template can still encode text records.
    ExampleEncoder(const std::string& model_dir, const EncodeOptions& options);
    ~ExampleEncoder();
    ExampleEncoder(const ExampleEncoder&) = delete;
    ExampleEncoder& operator=(const ExampleEncoder&) = delete;

    // `where` names the record in errors (e.g. "train.jsonl record 17"). invalid_input for
    // preference records, for chat records on a model without a template, when the template
    // rejects the conversation, or when assistant spans cannot be located exactly.
    TrainingExample encode(const CanonicalRecord& record, const std::string& where = "") const;

    // The full tokenization and, per token, whether it carries loss, before truncation and
    // shifting (what encode() builds the example from); for tests and previews.
    struct Tokens {
        std::vector<int32_t> ids;
        std::vector<uint8_t> trained;  // 1 where the token is a target
    };
    Tokens tokens(const CanonicalRecord& record, const std::string& where = "") const;

    const EncodeOptions& options() const { return options_; }

  private:
    struct Span;
    std::string render(const ordered_json& messages, const ordered_json& tools,
                       bool generation_prompt, const std::string& where) const;
    std::vector<Span> assistant_spans(const ordered_json& messages, const std::vector<int>& weights,
                                      const ordered_json& tools, const std::string& full,
                                      const std::string& where) const;
    size_t locate_turn_end(const ordered_json& conversation, size_t i, const ordered_json& tools,
                           const std::string& rendered, size_t start, const std::string& last_turn,
                           const std::string& where) const;
    void check_final_turn(const ordered_json& messages, size_t i, const ordered_json& tools,
                          size_t start, const std::string& through, const std::string& where) const;
    Tokens chat_tokens(const ordered_json& record, const std::string& where) const;
    Tokens text_tokens(const std::string& text, const std::string& where) const;
    Tokens label_tokens(const std::string& text, const std::vector<Span>& spans,
                        const std::string& where) const;
    std::string template_name() const;

    std::string model_dir_;
    EncodeOptions options_;
    std::shared_ptr<tokenizer::Tokenizer> tokenizer_;
    std::unique_ptr<tokenizer::ChatTemplate> template_;
    std::unique_ptr<tokenizer::ChatTemplateInputs> base_inputs_;
};

// A text record's token ids as training sees them: encoded with the tokenizer's special tokens,
// then the end-of-sequence token appended unless the encoding already ends with it, so the
// model learns to stop. TokenCounter counts the same ids.
std::vector<int64_t> encode_text_record(const tokenizer::Tokenizer& tokenizer,
                                        const std::string& text);

}  // namespace llmtune::data
