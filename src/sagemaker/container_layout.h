// Where the SageMaker training-container contract puts things. SageMaker mounts everything
// under /opt/ml; LLMTUNE_SM_ROOT (or `llmtune sagemaker train --root DIR`) moves the root, so
// tests and local dry runs build a fake tree anywhere. Torch-free.
//
//   <root>/input/config/hyperparameters.json   every value a string
//   <root>/input/config/inputdataconfig.json   the channels and their input modes
//   <root>/input/config/resourceconfig.json    current_host, hosts (multi-instance)
//   <root>/input/data/<channel>/               train, validation (optional), model
//   <root>/model/                              uploaded as model.tar.gz when the job succeeds
//   <root>/checkpoints/                        CheckpointConfig.LocalPath, synced with S3
//   <root>/output/failure                      the cause of a failed run (FailureReason)
#pragma once

#include <string>

namespace llmtune::sagemaker {

extern const char* const kDefaultRoot;     // "/opt/ml"
extern const char* const kRootEnvVariable;  // "LLMTUNE_SM_ROOT"

struct ContainerLayout {
    std::string root = "/opt/ml";

    std::string config_dir() const { return root + "/input/config"; }
    std::string hyperparameters_file() const { return config_dir() + "/hyperparameters.json"; }
    std::string input_data_config_file() const { return config_dir() + "/inputdataconfig.json"; }
    std::string resource_config_file() const { return config_dir() + "/resourceconfig.json"; }
    std::string channel_dir(const std::string& channel) const {
        return root + "/input/data/" + channel;
    }
    std::string model_dir() const { return root + "/model"; }
    std::string checkpoints_dir() const { return root + "/checkpoints"; }
    std::string output_dir() const { return root + "/output"; }
    std::string failure_file() const { return output_dir() + "/failure"; }
};

// The layout at `root_flag` when it is not empty, else at $LLMTUNE_SM_ROOT when set, else at
// /opt/ml.
ContainerLayout container_layout(const std::string& root_flag = "");

// True when <root>/input/config is a directory: `llmtune train` without arguments then runs
// the container contract instead of printing its usage error.
bool in_training_container(const ContainerLayout& layout);

// Writes `text` (cut to SageMaker's 1024-character FailureReason limit at a UTF-8 boundary) to
// <root>/output/failure, creating the directory. Never throws: it runs while another error is
// being reported; returns false when the file could not be written.
bool write_failure_file(const ContainerLayout& layout, const std::string& text);

}  // namespace llmtune::sagemaker
