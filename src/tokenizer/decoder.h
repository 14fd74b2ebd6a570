// Decoders: turn token strings back into text, as tokenizer.json's "decoder" says.
// Implemented: ByteLevel, ByteFallback, Fuse, Strip, Replace, Metaspace, BPEDecoder, Sequence.
//
// Hugging Face returns a Rust String, so it replaces bytes that are not valid UTF-8 with
// U+FFFD (ByteFallback: one per byte of an invalid run; ByteLevel: one per maximal invalid
// sequence). With `lossy` false these decoders keep the raw bytes instead: a token may end
// inside a character whose remaining bytes come with the next token, and a streaming caller
// must see them. With `lossy` true they replace as Hugging Face does.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace llmtune::tokenizer {

class JsonPath;

class Decoder {
  public:
    virtual ~Decoder() = default;
    // Transforms the token strings (raw bytes); the result is concatenated by the caller.
    virtual void decode_chain(std::vector<std::string>& tokens, bool lossy) const = 0;
};

std::unique_ptr<Decoder> make_decoder(const JsonPath& config);

}  // namespace llmtune::tokenizer
