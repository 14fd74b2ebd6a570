// Tokenizer: a Hugging Face tokenizer.json (plus tokenizer_config.json), with the same ids as
// the Hugging Face tokenizers library.
//
// Encoding runs the pipeline of tokenizer.json: added tokens are split out of the text, the
// rest is normalized, pre-tokenized into words and each word is run through the BPE model;
// the post-processor then adds BOS/EOS when add_special_tokens is true. Decoding maps ids to
// token strings and runs the decoder.
//
// Supported components (anything else is an invalid_input error naming the component and its
// JSON path): model BPE; normalizers NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents,
// Prepend, Replace, Sequence; pre-tokenizers ByteLevel, Split, Metaspace, Digits, Punctuation,
// Whitespace, WhitespaceSplit, Sequence; post-processors TemplateProcessing, ByteLevel,
// BertProcessing, RobertaProcessing, Sequence; decoders ByteLevel, ByteFallback, Fuse, Strip,
// Replace, Metaspace, BPEDecoder, Sequence.
//
// tokenizer_config.json, when present beside tokenizer.json, supplies bos_token/eos_token, and
// for the Llama-family classes (LlamaTokenizer, CodeLlamaTokenizer, GemmaTokenizer)
// add_bos_token/add_eos_token, which replace the post-processor as transformers does.
// "truncation" and "padding" in tokenizer.json are ignored, as transformers ignores them unless
// asked to truncate or pad.
//
// A model directory with tokenizer.model (SentencePiece) but no tokenizer.json is read through
// libsentencepiece instead (see sentencepiece_model.h for what it matches): the same API, with
// transformers' LlamaTokenizer handling of special tokens and add_bos_token/add_eos_token.
//
// Input text must be valid UTF-8: encode() rejects anything else with invalid_input (Hugging
// Face cannot receive such text at all; Python and JavaScript strings are always valid).
//
// Thread safety: a loaded Tokenizer is immutable apart from an internal, mutex-guarded word
// cache; all const methods may be called from many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/json_file.h"

namespace llmtune::tokenizer {

class AddedVocabulary;
class BpeModel;
class Decoder;
class Normalizer;
class PostProcessor;
class PreTokenizer;
class SentencePieceModel;

class Tokenizer {
  public:
    // `path` is a tokenizer.json file or a model directory holding one; tokenizer_config.json
    // is read from the same directory when present. A directory with only a tokenizer.model, or
    // a path to a *.model file, loads the SentencePiece model. Errors: not_found (no such file),
    // invalid_input (malformed or unsupported file, naming the file and JSON path).
    static std::shared_ptr<Tokenizer> load(const std::string& path);

    // From parsed JSON. `source` names the tokenizer.json in error messages; `config` is the
    // tokenizer_config.json content (null when absent).
    static std::shared_ptr<Tokenizer> from_json(const json& tokenizer_json,
                                                const std::string& source,
                                                const json& config = json(),
                                                const std::string& config_source = "");

    ~Tokenizer();
    Tokenizer(const Tokenizer&) = delete;
    Tokenizer& operator=(const Tokenizer&) = delete;

    // Token ids of `text` (valid UTF-8). With add_special_tokens the post-processor adds the
    // model's BOS/EOS tokens; special-token strings in the text are always recognised.
    std::vector<int64_t> encode(const std::string& text, bool add_special_tokens = true) const;

    // The bytes of the text the ids stand for. They may end inside a UTF-8 character, and
    // decode(a) is a prefix of decode(a + b) for the decoders listed above except Strip with
    // a "stop" count. Ids with no token (e.g. a model's padding rows) are skipped, as Hugging
    // Face skips them; negative ids are invalid_input. Spaces are not "cleaned up" (transformers'
    // clean_up_tokenization_spaces is not applied).
    std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = true) const;
    // decode(), with invalid UTF-8 replaced by U+FFFD: what Hugging Face's decode returns.
    std::string decode_text(const std::vector<int64_t>& ids, bool skip_special_tokens = true) const;

    // The token strings as in the vocabulary (byte-level characters such as "Ġ" included);
    // an empty string for an id with no token.
    std::vector<std::string> pieces(const std::vector<int64_t>& ids) const;

    std::optional<int64_t> token_to_id(const std::string& token) const;
    // Largest id in the vocabulary or the added tokens, plus one.
    int64_t vocab_size() const { return vocab_size_; }
    // True for added tokens marked "special" (skipped by decode with skip_special_tokens).
    bool is_special(int64_t id) const;

    // From tokenizer_config.json, when it names them and they are in the vocabulary.
    std::optional<int64_t> bos_id() const { return bos_id_; }
    std::optional<int64_t> eos_id() const { return eos_id_; }

    // tokenizer_config.json's clean_up_tokenization_spaces (false when absent): whether
    // transformers' decode applies clean_up_tokenization to its result. decode() never does,
    // since the clean-up can change text already streamed.
    bool clean_up_tokenization_spaces() const { return clean_up_tokenization_spaces_; }
    // transformers' clean_up_tokenization: removes the space in " .", " ?", " !", " ,",
    // " ' ", " n't", " 'm", " 's", " 've" and " 're".
    static std::string clean_up_tokenization(const std::string& text);

  private:
    Tokenizer();
    const std::string* token_string(int64_t id) const;
    std::string decode_impl(const std::vector<int64_t>& ids, bool skip_special_tokens,
                            bool lossy) const;

    std::unique_ptr<Normalizer> normalizer_;
    std::unique_ptr<PreTokenizer> pre_tokenizer_;
    std::unique_ptr<BpeModel> model_;
    std::unique_ptr<AddedVocabulary> added_;
    std::unique_ptr<PostProcessor> post_processor_;
    std::unique_ptr<Decoder> decoder_;
    // Set instead of the pipeline above for a SentencePiece tokenizer.model.
    std::unique_ptr<SentencePieceModel> sentencepiece_;
    int64_t vocab_size_ = 0;
    std::optional<int64_t> bos_id_, eos_id_;
    bool clean_up_tokenization_spaces_ = false;
};

}  // namespace llmtune::tokenizer
