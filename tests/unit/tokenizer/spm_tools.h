// Debian's SentencePiece command-line tools (package `sentencepiece`) for llmtune's tests:
// spm_train makes small models at test time, spm_encode / spm_decode / spm_export_vocab are
// the independent reference for what libsentencepiece does with them. The tools read and write
// one sentence per line, so the strings given to them must not contain "\n".
#pragma once

#include <string>
#include <vector>

namespace llmtune::test {

// A model trained once per test program on the text of sentencepiece_corpus.mjs.
//   "bpe":     BPE like Llama's tokenizer.model (identity normalization, extra whitespace kept,
//              byte fallback, split digits) with user-defined <|im_start|> and <|im_end|>;
//   "unigram": unigram with spm_train's default normalization (NFKC-based nmt_nfkc, extra
//              whitespace removed), no dummy "▁" prefix (as Gemma's), no byte fallback (rare
//              characters are <unk>), and a control piece <ctl>.
// Returns the directory holding tokenizer.model (and nothing else llmtune reads); fails the
// test when node or spm_train cannot run.
std::string spm_model_dir(const std::string& name);

// The one-line test strings written by sentencepiece_corpus.mjs (about 2,800).
const std::vector<std::string>& spm_test_texts();

// Runs the tools on `model` (a tokenizer.model path); one result per input. An empty result
// with an ADD_FAILURE when the tool fails.
std::vector<std::vector<int64_t>> spm_encode_ids(const std::string& model,
                                                 const std::vector<std::string>& texts);
std::vector<std::vector<std::string>> spm_encode_pieces(const std::string& model,
                                                        const std::vector<std::string>& texts);
std::vector<std::string> spm_decode_ids(const std::string& model,
                                        const std::vector<std::vector<int64_t>>& ids);
// The pieces in id order (spm_export_vocab).
std::vector<std::string> spm_export_vocab(const std::string& model);

// `s` quoted for /bin/sh.
std::string sh_quote(const std::string& s);

}  // namespace llmtune::test
