// Exporting a model to a GGUF file that llama.cpp (and Ollama) load, with the tokenizer
// inside, following the conventions of llama.cpp's convert_hf_to_gguf.py:
//
// - general.architecture "llama" for Llama and Mistral, "qwen2", "qwen3", with the
//   <arch>.* hyperparameters llama.cpp reads;
// - tensor names token_embd, output_norm, output (absent when tied), blk.N.attn_norm,
//   attn_q/k/v/output, attn_q_norm/attn_k_norm (Qwen3), ffn_norm, ffn_gate/up/down;
// - for "llama", attn_q and attn_k rows are permuted from Hugging Face's rotate-half RoPE
//   layout (pairs (i, i + hd/2)) to llama.cpp's interleaved one (pairs (2i, 2i + 1)); Qwen2/3
//   use NEOX RoPE in llama.cpp, which is rotate-half, and keep HF's layout;
// - 1-D tensors (norms, biases, rope factors) are always F32, as llama.cpp expects; 2-D weights
//   take the requested type, except that Q8_0 falls back to F16 for a weight whose rows are
//   not a multiple of 32 (reported in the summary);
// - the tokenizer from tokenizer.json: byte-level BPE as tokenizer.ggml.model "gpt2" with the
//   pre-tokenizer name llama.cpp knows (see gguf_pre_tokenizer_name), or a byte-fallback BPE
//   converted from SentencePiece as "llama"; tokens, token types, merges or scores, special
//   token ids, add_bos/add_eos, and the chat template.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/json_file.h"
#include "model/decoder.h"
#include "model/gguf_writer.h"

namespace llmtune::model {

struct GgufExportOptions {
    GgmlType type = GgmlType::f16;    // for 2-D weights; llama.cpp users' usual default
    std::string name;                 // general.name; default: the model directory's name
    GgufWriter::ProgressFn progress;  // called after each tensor
};

struct GgufExportSummary {
    std::string architecture;           // general.architecture
    std::string tokenizer_model;        // "gpt2" | "llama"
    std::string pre_tokenizer;          // tokenizer.ggml.pre ("" for "llama")
    size_t tensors = 0;
    uint64_t bytes = 0;                 // the file's size
    std::vector<std::string> warnings;  // e.g. Q8_0 -> F16 fallbacks, an ignored sliding window
};

// Writes `out_path` (atomically) from `model` and the tokenizer files in `model_dir`. Adapters
// on the model are merged into its weights first (merge_lora), so the model is changed.
// Errors: invalid_input for a tokenizer or configuration llama.cpp cannot represent (with a
// hint), not_found when model_dir has no tokenizer.json, io when the file cannot be written.
GgufExportSummary export_gguf(CausalLM& model, const std::string& model_dir,
                              const std::string& out_path, const GgufExportOptions& options);

// llama.cpp's tokenizer.ggml.pre for a byte-level BPE tokenizer.json: "qwen2" (Qwen2, Qwen3),
// "llama-bpe" (Llama 3), "gpt2". llama.cpp selects its pre-tokenizer regexes by this name, so
// the name is chosen from the tokenizer's Split regex; an unknown one is invalid_input.
std::string gguf_pre_tokenizer_name(const json& tokenizer_json, const std::string& source);

// llama.cpp's row order for the "llama" architecture's Q or K projection: within each head,
// row i < hd/2 moves to 2i and row hd/2 + i to 2i + 1. w (n_head * hd, ...) -> same shape.
torch::Tensor permute_rope_rows(const torch::Tensor& w, int64_t n_head);

}  // namespace llmtune::model
