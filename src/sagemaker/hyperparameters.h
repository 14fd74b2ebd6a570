// SageMaker hyperparameters -> the trainer's config. SageMaker passes hyperparameters.json as a
// flat object whose values are all strings (CreateTrainingJob's HyperParameters map). Each key
// names a training-config setting (docs/config.md) by its dotted path ("training.learning_rate",
// "lora.r") or by its last part when that is unique ("learning_rate", "r"); each value is read
// as the type that setting has and then range-checked by the trainer's own config parser.
// Every problem is reported at once, each naming the hyperparameter key. Torch-free.
#pragma once

#include <string>
#include <vector>

#include "common/json_file.h"
#include "train/train_config.h"

namespace llmtune::sagemaker {

// Paths the container fills in itself (from the channels and the layout); a hyperparameter
// that sets one is refused.
struct ContainerPaths {
    std::string model_dir;                 // the model channel (base model directory)
    std::vector<std::string> train_files;  // the files of the train channel
    std::string validation_file;           // the validation channel's file, or ""
    std::string output_dir;                // the trainer's output dir (under checkpoints/)
};

struct ParsedHyperparameters {
    train::TrainConfig config;
    std::vector<std::string> ignored;  // "sagemaker_*" keys the SageMaker SDKs add, ignored
};

// `hyperparameters` is the parsed hyperparameters.json; `source` names it in errors.
// invalid_input listing every bad key: not a string, unknown (with a close name suggested),
// set twice (path and short name), not of the setting's type, out of range, or one of the
// container's own paths.
ParsedHyperparameters config_from_hyperparameters(const json& hyperparameters,
                                                  const std::string& source,
                                                  const ContainerPaths& paths);

// The settings that hyperparameters may set, as dotted paths in docs/config.md order.
std::vector<std::string> hyperparameter_keys();

// The string form of a config value as hyperparameters.json carries it (what the backend
// sends): strings as they are, booleans "true"/"false", integers in decimal, other numbers as
// JavaScript's String(number) writes them ("16", "0.0002", "1e-8"), lists as JSON arrays.
std::string hyperparameter_string(const ordered_json& value);

}  // namespace llmtune::sagemaker
