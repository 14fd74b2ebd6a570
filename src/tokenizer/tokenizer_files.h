// The files that make up a Hugging Face tokenizer, and the facts about them that other layers
// need without running the tokenizer: where they are, the id range, special token ids.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/json_file.h"

namespace llmtune::tokenizer {

struct TokenizerFiles {
    std::string dir;                    // the directory holding them
    std::string tokenizer_json;         // path, or empty
    std::string tokenizer_config_json;  // path, or empty
    std::string sentencepiece_model;    // tokenizer.model path, or empty
    std::string special_tokens_map;     // special_tokens_map.json path, or empty
};

// `path` is a tokenizer.json file or a directory holding tokenizer files. Throws not_found
// with a hint when neither tokenizer.json nor tokenizer.model is there.
TokenizerFiles find_tokenizer_files(const std::string& path);

// What model init and generation need to know about a tokenizer.json.
struct TokenizerSummary {
    int64_t vocab_extent = 0;  // largest id + 1, over the model vocab and added tokens
    std::optional<int64_t> bos_id, eos_id, pad_id;
    std::string bos_token, eos_token, pad_token;
    std::optional<std::string> chat_template;  // the default template, if any
    std::string model_type;                    // "BPE", "Unigram", ...
};

TokenizerSummary summarize_tokenizer(const TokenizerFiles& files);

// The id of a token by its exact content (model vocab or added tokens), if present.
std::optional<int64_t> token_id(const json& tokenizer_json, const std::string& content);

}  // namespace llmtune::tokenizer
