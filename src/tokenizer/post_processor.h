// Post-processors: add the special tokens a model expects around an encoded sequence, as
// tokenizer.json's "post_processor" says. Implemented for single sequences: TemplateProcessing,
// ByteLevel (no change to ids), RobertaProcessing, BertProcessing and Sequence.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace llmtune::tokenizer {

class JsonPath;

class PostProcessor {
  public:
    virtual ~PostProcessor() = default;
    // Adds the special tokens around `ids` (only when add_special_tokens).
    virtual void process(std::vector<int64_t>& ids, bool add_special_tokens) const = 0;
};

std::unique_ptr<PostProcessor> make_post_processor(const JsonPath& config);

// TemplateProcessing for a single sequence: `prefix` ids, the sequence, then `suffix` ids.
std::unique_ptr<PostProcessor> make_template_post_processor(std::vector<int64_t> prefix,
                                                            std::vector<int64_t> suffix);

}  // namespace llmtune::tokenizer
