// manifest.json: the lineage of a training output, written beside the adapter or model.
//
//   llmtune_version, git_commit     the program that trained it (the commit is the source
//                                   tree's HEAD when CMake configured the build)
//   method, output                  lora | full, and the artifact files
//   base_model                      path, model_type, and its hash: SHA-256 of each
//                                   *.safetensors file's bytes, and one combined SHA-256 over
//                                   the lines "<sha256>  <file>\n" (sha256sum format, files
//                                   sorted by name)
//   datasets                        per file: role (train | validation), path, bytes, SHA-256,
//                                   records read and examples used
//   hyperparameters                 the whole training config (defaults filled in)
//   training                        steps, epochs, tokens, time, how the run ended
//   final_metrics                   the last train_loss / valid_loss / accuracies
//   chat_template                   the template the examples were rendered with (or null)
// Torch-free.
#pragma once

#include <string>
#include <vector>

#include "common/json_file.h"
#include "train/file_hash.h"
#include "train/train_config.h"

namespace llmtune::train {

struct DatasetFileInfo {
    std::string role;  // "train" or "validation"
    std::string path;
    uint64_t bytes = 0;
    std::string sha256;
    int64_t records = 0;   // records read from the file
    int64_t examples = 0;  // examples used in this role (records with a trained token; for a
                           // training file split by validation_split, the training side only)
};

struct ManifestInputs {
    const TrainConfig* config = nullptr;
    std::string model_type;  // config.json's model_type
    ModelHash model_hash;
    std::vector<DatasetFileInfo> datasets;
    std::vector<std::string> artifacts;  // file names written in the output directory
    ordered_json training;               // steps, epochs, tokens, elapsed_s, stop_reason
    ordered_json final_metrics;
    std::string chat_template;  // "" = none
};

// "0.1.0"
const char* llmtune_version();
// The git commit the build was configured from ("unknown" outside a git checkout).
const char* llmtune_git_commit();

ordered_json build_manifest(const ManifestInputs& in);
// Writes dir/manifest.json atomically.
void write_manifest(const std::string& dir, const ManifestInputs& in);

}  // namespace llmtune::train
