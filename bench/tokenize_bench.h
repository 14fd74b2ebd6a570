// llmtune bench tokenize: encode throughput of the tokenizer.json tokenizer beside the
// reference implementation (@lenml/tokenizers, a port of Hugging Face tokenizers), both
// measured in the same run on the same bytes, one thread each.
#pragma once

#include <string>

#include "common/json_file.h"

namespace llmtune::bench {

struct TokenizeBenchOptions {
    std::string tokenizer;         // tokenizer dir; default: the npm Qwen3 tokenizer
    double megabytes = 1.0;        // corpus size
    std::string reference_script;  // default: tests/reference/tokenize_reference.mjs
    int repeats = 3;               // best of, for llmtune's warm figure
};

ordered_json run_tokenize_bench(const TokenizeBenchOptions& options);

}  // namespace llmtune::bench
