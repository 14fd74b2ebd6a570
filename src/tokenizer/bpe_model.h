// BpeModel: the byte-pair-encoding model of tokenizer.json ("model": {"type": "BPE"}).
//
// A word is first split into characters (each looked up in the vocabulary; unknown ones become
// <0xNN> byte tokens with byte_fallback, else the unk token, fused when fuse_unk), then adjacent
// symbols are merged, always the pair whose merge ranks lowest (leftmost on ties), until no
// listed merge applies. With ignore_merges a word that is itself in the vocabulary is taken
// whole. Both merges formats are read: "a b" strings and ["a", "b"] pairs.
//
// Thread safety: tokenize() may be called from many threads; the word cache is guarded by a
// mutex. Everything else is immutable after construction.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace llmtune::tokenizer {

class JsonPath;

class BpeModel {
  public:
    explicit BpeModel(const JsonPath& config);
    ~BpeModel();

    // Appends the ids of one pre-tokenized word.
    void tokenize(std::string_view word, std::vector<int32_t>& out) const;

    std::optional<int32_t> token_to_id(const std::string& token) const;
    // The token string of an id, or nullptr when the vocabulary has no such id.
    const std::string* id_to_token(int64_t id) const;
    int64_t max_id() const { return static_cast<int64_t>(id_to_token_.size()) - 1; }

  private:
    struct MergeTable;

    void merge_word(std::string_view word, std::vector<int32_t>& out) const;
    std::optional<int32_t> symbol_id(std::string_view text, bool first, bool last) const;

    std::unordered_map<std::string, int32_t> vocab_;
    std::vector<std::string> id_to_token_;
    std::vector<bool> id_present_;
    std::unordered_map<uint32_t, int32_t> char_ids_;  // one-character tokens by code point
    std::unique_ptr<MergeTable> merges_;
    std::optional<int32_t> unk_id_;
    std::string continuing_subword_prefix_;
    std::string end_of_word_suffix_;
    bool fuse_unk_ = false;
    bool byte_fallback_ = false;
    bool ignore_merges_ = false;
    int32_t byte_ids_[256];  // <0xNN> tokens, or -1

    // Words already tokenized. Bounded: cleared when full.
    mutable std::mutex cache_mutex_;
    mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace llmtune::tokenizer
