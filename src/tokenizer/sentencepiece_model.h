// SentencePieceModel: a SentencePiece tokenizer.model run through libsentencepiece (isolated in
// a module of its own, see sentencepiece_library.h), with the special tokens and BOS/EOS of
// transformers' slow LlamaTokenizer (and GemmaTokenizer). The Tokenizer uses it for a model
// directory that has tokenizer.model but no tokenizer.json.
//
// Encoding, as transformers' LlamaTokenizer with legacy=True (its default when
// tokenizer_config.json does not say) does it:
//   - special-token strings are split out of the text first: every control piece of the model
//     (<s>, </s>, ...), the unk piece, tokenizer_config.json's bos/eos/unk/pad tokens,
//     additional_special_tokens and added_tokens_decoder (with its lstrip/rstrip/single_word).
//     (transformers splits out only the tokens it registers; for Llama, Mistral and Gemma those
//     are the same, but a control piece no config names would stay text there);
//   - each stretch of text between them is encoded by libsentencepiece on its own, exactly as
//     spm_encode encodes a line (normalization, the dummy "▁" prefix, user-defined pieces,
//     byte fallback are all the library's). So "<s>Hi" gives [<s>, ▁Hi]: the legacy extra
//     "▁" after a special token;
//   - with add_special_tokens, BOS is prepended when add_bos_token (default true) and EOS
//     appended when add_eos_token (default false). Without a tokenizer_config.json, BOS and EOS
//     are the model's own <s>/</s> pieces; a model without a BOS piece then needs a config with
//     "add_bos_token": false.
// transformers' non-legacy mode (legacy=false: no "▁" after special tokens, "▁" in the text read
// as a space) is not implemented: such a tokenizer_config.json is rejected (invalid_input)
// rather than tokenized differently. So are tokenizer classes other than Llama and Gemma.
//
// Decoding follows libsentencepiece's Decode: "▁" is read as a space, <0xNN> pieces as bytes,
// and while nothing has been written the leading "▁" of the next piece is dropped (once, when
// the model adds a dummy prefix; from every piece until text appears, when it removes extra
// whitespace). Where the tokenizer API asks for more, it does what Hugging Face's Llama
// tokenizer.json (converted from the same model) does:
//   - bytes are returned raw, so that decode(a) is a prefix of decode(a + b); decode_text
//     replaces each byte of an invalid sequence by U+FFFD, as libsentencepiece does;
//   - special tokens (control pieces, unk, special added tokens) are skipped with
//     skip_special_tokens and otherwise written as their piece ("<s>", "<unk>"), where
//     libsentencepiece writes nothing for a control piece and " ⁇ " for unk; non-special added
//     tokens are always written;
//   - transformers' slow tokenizer decodes each run between special tokens separately (so
//     [<s>, ▁Hi] kept gives "<s>Hi", not "<s> Hi") and in legacy mode puts a space before each
//     special token; neither is done (neither is prefix-stable).
// A model with a denormalizer is rejected (libsentencepiece would rewrite decoded text).
//
// Thread safety: immutable after construction; libsentencepiece's Encode is const.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/json_file.h"

namespace llmtune::tokenizer {

class AddedVocabulary;
class SpmProcessor;

class SentencePieceModel {
  public:
    // `model_path` is the tokenizer.model; `config` the tokenizer_config.json content (null when
    // absent), named `config_source` in errors. Throws invalid_input naming the file.
    SentencePieceModel(const std::string& model_path, const json& config,
                       const std::string& config_source);
    ~SentencePieceModel();

    // `text` must be valid UTF-8 (the Tokenizer checks).
    std::vector<int64_t> encode(const std::string& text, bool add_special_tokens) const;
    // With `lossy`, invalid UTF-8 from byte pieces becomes U+FFFD (one per byte).
    std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens, bool lossy) const;

    // The piece (or added token) of an id; nullptr when there is none. `id` >= 0.
    const std::string* token_string(int64_t id) const;
    std::optional<int64_t> token_to_id(const std::string& token) const;
    int64_t vocab_size() const { return vocab_size_; }
    bool is_special(int64_t id) const;
    std::optional<int64_t> bos_id() const { return bos_id_; }
    std::optional<int64_t> eos_id() const { return eos_id_; }
    bool clean_up_tokenization_spaces() const { return clean_up_tokenization_spaces_; }
    // "Unigram", "BPE", ... (from the model's trainer_spec).
    const std::string& model_type() const { return model_type_; }

  private:
    // added: from added_tokens_decoder; none: an id past the model's pieces that names no token.
    enum class Kind : uint8_t { normal, byte, control, unknown, added, added_special, none };

    void read_config(const json& config, const std::string& config_source);

    std::string path_;
    std::unique_ptr<SpmProcessor> sp_;
    std::unique_ptr<AddedVocabulary> added_;
    std::vector<std::string> pieces_;  // by id, up to vocab_size_ (added tokens included)
    std::vector<Kind> kinds_;
    std::vector<uint8_t> byte_values_;  // for Kind::byte
    int64_t piece_count_ = 0;           // the model's own pieces
    int64_t vocab_size_ = 0;
    bool strip_leading_space_ = true;       // add_dummy_prefix || remove_extra_whitespaces
    bool remove_extra_whitespaces_ = true;  // strip every leading "▁" until text appears
    std::optional<int64_t> bos_id_, eos_id_;
    bool add_bos_ = true, add_eos_ = false;
    bool clean_up_tokenization_spaces_ = false;
    std::string model_type_;
};

}  // namespace llmtune::tokenizer
