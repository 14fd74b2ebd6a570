// The base models the server offers: each subfolder of the models dir that holds a
// config.json (a Hugging Face model directory). The folder name is the model id.
//
// A folder whose config.json llmtune cannot use is still listed, with `usable: false` and
// the reason, so a user sees why their model does not appear as trainable.
//
// A model dir may hold `llmtune_starter.json` ({"randomly_initialized": true, ...}), written
// by scripts/quickstart next to the starter model `llmtune model init` creates: such a model
// is labelled as randomly initialized, a model for trying the workflow.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/json_file.h"

namespace llmtune::service {

struct BaseModel {
    std::string id;    // the folder name
    std::string path;  // absolute path of the folder
    int64_t created = 0;  // mtime of config.json, Unix seconds
    ordered_json llmtune;  // the `llmtune` extension object
};

// Every model folder, sorted by id. A missing models dir yields an empty list.
std::vector<BaseModel> list_base_models(const std::string& models_dir);

// One model by id; nothing when there is no such folder (ids with '/' or '..' never match).
std::optional<BaseModel> find_base_model(const std::string& models_dir, const std::string& id);

}  // namespace llmtune::service
