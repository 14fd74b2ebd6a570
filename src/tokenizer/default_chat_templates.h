// Chat templates for tokenizers that ship without one, chosen from the special tokens they
// have. These are the formats the model families use (ChatML for Qwen, [INST] for Llama 2).
#pragma once

#include <string>

#include "common/json_file.h"

namespace llmtune::tokenizer {

// Picks a template for a tokenizer.json that has none: ChatML when <|im_start|> exists,
// Llama 3 headers when <|start_header_id|> exists, Llama 2 [INST] when bos is <s>, otherwise
// a plain "role: content<eos>" layout.
std::string default_chat_template(const json& tokenizer_json, const std::string& bos_token);

}  // namespace llmtune::tokenizer
