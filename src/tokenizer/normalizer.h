// Normalizers: the first step of encoding, applied to each stretch of input text between added
// tokens, as tokenizer.json's "normalizer" says. Implemented: NFC, NFD, NFKC, NFKD (ICU),
// Lowercase, Strip, StripAccents, Prepend, Replace (string or regex) and Sequence.
#pragma once

#include <memory>
#include <string>

namespace llmtune::tokenizer {

class JsonPath;

class Normalizer {
  public:
    virtual ~Normalizer() = default;
    // Normalizes `text` in place. The text is valid UTF-8 and stays so.
    virtual void normalize(std::string& text) const = 0;
};

// Builds the normalizer described at `config`; null gives nullptr. An unknown or unsupported
// type is an invalid_input error naming it and its JSON path.
std::unique_ptr<Normalizer> make_normalizer(const JsonPath& config);

}  // namespace llmtune::tokenizer
