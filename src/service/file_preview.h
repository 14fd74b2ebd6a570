// FilePreviewer: the first records of a processed file as training sees them: each chat or
// text record rendered with a model's chat template and tokenized by data::ExampleEncoder (the
// trainer's own encoder, with its defaults: loss on assistant messages only, weights honoured),
// then decoded back to text in runs of trained and untrained tokens, so a reader sees exactly
// which text carries loss. The counts are of the whole tokenization, before a job's
// max_seq_len truncation.
//
// Thread safety: preview() may be called from several request threads at once. Encoders are
// cached (the two most recently used models), since loading a tokenizer costs far more than
// encoding a few records; a model whose tokenizer files changed is loaded again.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/json_file.h"
#include "service/auth.h"

namespace llmtune::tokenizer {
class Tokenizer;
}
namespace llmtune::data {
class ExampleEncoder;
}

namespace llmtune::service {

class FileService;
class JobService;

struct PreviewSegment {
    std::string text;  // valid UTF-8
    bool trained = false;
};

struct PreviewExample {
    int64_t line = 0;   // 1-based record number in the canonical JSONL
    std::string kind;   // chat | text | preference
    ordered_json record;  // the canonical record, "weight" keys included
    std::vector<PreviewSegment> segments;  // chat and text; empty for preference or error
    int64_t tokens = 0, trained_tokens = 0;
    std::string error;  // the encoder's message when it refuses the record (training would too)
};

struct FilePreview {
    std::string model;  // the model id whose tokenizer and template were used
    std::vector<PreviewExample> examples;
};

// The rendered text of `ids` split where `trained` changes, decoded with special tokens kept.
// The segments concatenate to the decode of all ids; a boundary inside a UTF-8 character
// (byte-level tokens) moves back to the character's start.
std::vector<PreviewSegment> trained_segments(const tokenizer::Tokenizer& tok,
                                             const std::vector<int32_t>& ids,
                                             const std::vector<uint8_t>& trained);

class FilePreviewer {
  public:
    FilePreviewer(FileService& files, JobService& jobs, std::string models_dir);
    ~FilePreviewer();

    // The first `limit` records of file `file_id`. `model`: a base model id or a fine-tuned
    // model id (its base model's tokenizer and template); "" = the first usable base model.
    // not_found for an unknown file or model; invalid_input when the file is not processed.
    FilePreview preview(const Principal& who, const std::string& file_id, const std::string& model,
                        int64_t limit);

    // The token statistics of the whole file with that model's tokenizer and chat template:
    // the `tokens` block of a validation report (count, min/mean/p50/p95/max, totals,
    // trainable tokens, records over `max_seq_len`, the length histogram), counted as training
    // counts them. Files are validated without a model, so their reports carry none; this is
    // how a reader gets them. Cached per (file content, model, max_seq_len). The model and
    // file errors are preview()'s.
    struct TokenStats {
        std::string model;
        ordered_json tokens;
    };
    TokenStats token_stats(const Principal& who, const std::string& file_id,
                           const std::string& model, int64_t max_seq_len);

  private:
    struct Loaded;
    std::shared_ptr<const Loaded> load(const std::string& model_dir);
    struct ResolvedModel {
        std::string id;    // as the caller named it, or the first base model's
        std::string path;  // the base model's directory
    };
    ResolvedModel resolve_model(const Principal& who, const std::string& model);

    FileService& files_;
    JobService& jobs_;
    std::string models_dir_;
    std::mutex mutex_;
    std::vector<std::shared_ptr<const Loaded>> cache_;  // most recent first, at most 2
    std::map<std::string, ordered_json> token_stats_cache_;  // "sha|model dir|max_seq_len"
};

}  // namespace llmtune::service
