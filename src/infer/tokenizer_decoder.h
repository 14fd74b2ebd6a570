// The generator's TokenDecoder over a tokenizer.json tokenizer (special tokens skipped).
#pragma once

#include <memory>

#include "infer/generator.h"
#include "tokenizer/tokenizer.h"

namespace llmtune::infer {

class TokenizerDecoder : public TokenDecoder {
  public:
    explicit TokenizerDecoder(std::shared_ptr<const tokenizer::Tokenizer> tok)
        : tok_(std::move(tok)) {}
    std::string decode(const std::vector<int64_t>& ids) const override {
        return tok_->decode(ids, true);
    }

  private:
    std::shared_ptr<const tokenizer::Tokenizer> tok_;
};

}  // namespace llmtune::infer
