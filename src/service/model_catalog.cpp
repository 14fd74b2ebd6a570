#include "service/model_catalog.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "common/error.h"
#include "model/model_config.h"

namespace llmtune::service {

namespace fs = std::filesystem;

namespace {

std::optional<BaseModel> describe(const fs::path& dir) {
    fs::path config = dir / "config.json";
    struct stat st {};
    if (::stat(config.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    BaseModel m;
    m.id = dir.filename().string();
    m.path = fs::absolute(dir).lexically_normal().string();
    m.created = static_cast<int64_t>(st.st_mtime);
    ordered_json ext;
    ext["kind"] = "base";
    ext["path"] = m.path;
    try {
        auto cfg = model::load_model_config(dir.string());
        ext["usable"] = true;
        ext["architecture"] = model::architecture_class_name(cfg.arch);
        ext["parameters"] = model::count_parameters(cfg);
        ext["hidden_size"] = cfg.hidden_size;
        ext["num_hidden_layers"] = cfg.num_hidden_layers;
        ext["vocab_size"] = cfg.vocab_size;
        ext["max_position_embeddings"] = cfg.max_position_embeddings;
        ext["torch_dtype"] = cfg.torch_dtype;
    } catch (const Error& e) {
        ext["usable"] = false;
        ext["error"] = e.message();
    }
    std::error_code ec;
    ext["has_tokenizer"] = fs::exists(dir / "tokenizer.json", ec) ||
                           fs::exists(dir / "tokenizer.model", ec);
    bool starter = false;
    if (fs::exists(dir / "llmtune_starter.json", ec)) {
        try {
            auto j = read_json_file((dir / "llmtune_starter.json").string());
            starter = j.is_object() && j.value("randomly_initialized", false);
        } catch (const Error&) {
            starter = false;
        }
    }
    ext["randomly_initialized"] = starter;
    if (starter)
        ext["description"] =
            "Starter model with RANDOM weights, created by `llmtune model init` for trying the "
            "workflow; its output is noise until trained. Put real Hugging Face models in the "
            "models dir.";
    m.llmtune = std::move(ext);
    return m;
}

}  // namespace

std::vector<BaseModel> list_base_models(const std::string& models_dir) {
    std::vector<BaseModel> out;
    std::error_code ec;
    if (models_dir.empty() || !fs::is_directory(models_dir, ec)) return out;
    for (const auto& e : fs::directory_iterator(models_dir, ec)) {
        if (!e.is_directory(ec)) continue;
        if (auto m = describe(e.path())) out.push_back(std::move(*m));
    }
    std::sort(out.begin(), out.end(),
              [](const BaseModel& a, const BaseModel& b) { return a.id < b.id; });
    return out;
}

std::optional<BaseModel> find_base_model(const std::string& models_dir, const std::string& id) {
    if (models_dir.empty() || id.empty() || id == "." || id == ".." ||
        id.find('/') != std::string::npos || id.find('\\') != std::string::npos)
        return std::nullopt;
    std::error_code ec;
    fs::path dir = fs::path(models_dir) / id;
    if (!fs::is_directory(dir, ec)) return std::nullopt;
    return describe(dir);
}

}  // namespace llmtune::service
