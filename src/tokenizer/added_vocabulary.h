// AddedVocabulary: tokenizer.json's "added_tokens" (special tokens such as <|im_start|> and
// user-added words), found in the input text before the model runs.
//
// As Hugging Face does: tokens with normalized=false are matched in the raw text first; the
// text between them is normalized, and tokens with normalized=true are then matched (in their
// normalized form) inside it. Matching is leftmost-longest. single_word tokens match only when
// not touching word characters; lstrip/rstrip tokens swallow the whitespace on that side.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace llmtune::tokenizer {

class JsonPath;
class Normalizer;

struct AddedToken {
    int64_t id = 0;
    std::string content;
    bool single_word = false;
    bool lstrip = false;
    bool rstrip = false;
    bool normalized = true;
    bool special = false;
    // What the token stands for in decoding: its normalized form when normalized=true (as
    // Hugging Face's id_to_token gives it), else its content.
    std::string decoded;
};

// A stretch of text, or an added token found in it.
struct AddedSplit {
    size_t start, end;  // byte range in the text that was split
    int64_t token_id;   // -1 for plain text
};

class AddedVocabulary {
  public:
    // Reads the "added_tokens" array (null or absent means none). `normalizer` (may be null)
    // gives the normalized form of tokens with normalized=true.
    AddedVocabulary(const JsonPath& added_tokens, const Normalizer* normalizer);
    ~AddedVocabulary();

    // Splits `text` around the added tokens of one kind: normalized=false (`normalized` false)
    // or normalized=true. Plain-text splits may be empty only when `text` is.
    void split(std::string_view text, bool normalized, std::vector<AddedSplit>& out) const;

    const std::vector<AddedToken>& tokens() const { return tokens_; }
    const AddedToken* find_id(int64_t id) const;
    std::optional<int64_t> find_content(const std::string& content) const;
    bool empty() const { return tokens_.empty(); }

  private:
    struct Trie;
    std::vector<AddedToken> tokens_;
    std::unordered_map<int64_t, size_t> by_id_;
    std::unordered_map<std::string, size_t> by_content_;
    std::unique_ptr<Trie> raw_trie_;         // normalized=false tokens, by content
    std::unique_ptr<Trie> normalized_trie_;  // normalized=true tokens, by normalized content
};

}  // namespace llmtune::tokenizer
