// Facts about a SentencePiece model (tokenizer.model) that libsentencepiece's public API does not
// expose, read from the serialized ModelProto: the normalizer flags that decoding depends on,
// whether a denormalizer is present, and the model type.
//
// Debian's libsentencepiece-dev ships no header for ModelProto, so this reads the protobuf wire
// format directly, with the field numbers of sentencepiece_model.proto:
//   ModelProto:     trainer_spec = 2, normalizer_spec = 3, denormalizer_spec = 5
//   TrainerSpec:    model_type = 3 (UNIGRAM 1, BPE 2, WORD 3, CHAR 4; default UNIGRAM)
//   NormalizerSpec: precompiled_charsmap = 2, add_dummy_prefix = 3 (default true),
//                   remove_extra_whitespaces = 4 (default true)
// Everything else is skipped. Repeated occurrences of a message merge and the last scalar wins,
// as protobuf specifies.
#pragma once

#include <string>
#include <string_view>

namespace llmtune::tokenizer {

struct SentencePieceFacts {
    std::string model_type = "Unigram";  // "Unigram", "BPE", "Word" or "Char"
    bool add_dummy_prefix = true;
    bool remove_extra_whitespaces = true;
    // A denormalizer_spec with a non-empty precompiled_charsmap: libsentencepiece then rewrites
    // decoded text with it.
    bool has_denormalizer = false;
};

// `serialized` is the ModelProto bytes. Throws invalid_input naming `source` when they are not
// well-formed protobuf (truncated varints or fields, unknown wire types).
SentencePieceFacts read_sentencepiece_facts(std::string_view serialized, const std::string& source);

}  // namespace llmtune::tokenizer
