// Pre-tokenizers: split normalized text into the pieces ("words") that the model tokenizes one
// at a time, as tokenizer.json's "pre_tokenizer" says. Implemented: ByteLevel, Split, Metaspace,
// Digits, Punctuation, Whitespace, WhitespaceSplit and Sequence, with the splitting behaviours
// of Hugging Face tokenizers (Removed, Isolated, MergedWithPrevious, MergedWithNext,
// Contiguous).
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace llmtune::tokenizer {

class JsonPath;

struct PreToken {
    std::string text;
    bool at_start = false;  // begins at the first byte of the input (Metaspace's "first")
};

class PreTokenizer {
  public:
    virtual ~PreTokenizer() = default;
    // Replaces each piece by its sub-pieces; empty pieces are dropped.
    virtual void pre_tokenize(std::vector<PreToken>& pieces) const = 0;
};

enum class SplitBehavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

// A stretch of text that the pattern matched (or not).
struct SplitSegment {
    size_t start, end;
    bool is_match;
};

// Applies a behaviour to the segments of one piece (they cover it in order) and appends the
// resulting sub-pieces; as Hugging Face's NormalizedString::split does.
void split_pieces(const PreToken& piece, const std::vector<SplitSegment>& segments,
                  SplitBehavior behavior, std::vector<PreToken>& out);

// Builds the pre-tokenizer described at `config`; null gives nullptr. An unknown or
// unsupported type is an invalid_input error naming it and its JSON path.
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const JsonPath& config);

}  // namespace llmtune::tokenizer
