#include "model/hf_export.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/json_file.h"
#include "model/loader.h"
#include "model/lora.h"
#include "model/safetensors.h"
#include "tokenizer/tokenizer_files.h"

namespace fs = std::filesystem;

namespace llmtune::model {

namespace {

const char* hf_dtype_name(torch::Dtype dtype) {
    if (dtype == torch::kFloat32) return "float32";
    if (dtype == torch::kFloat16) return "float16";
    if (dtype == torch::kBFloat16) return "bfloat16";
    throw_invalid("a Hugging Face export stores f32, f16 or bf16 weights",
                  "pass --dtype f32, f16 or bf16");
}

}  // namespace

const std::vector<std::string>& hf_export_copied_files() {
    static const std::vector<std::string> files = {
        "generation_config.json", "tokenizer.json",  "tokenizer_config.json",
        "special_tokens_map.json", "added_tokens.json", "chat_template.jinja",
        "tokenizer.model",         "vocab.json",        "merges.txt",
    };
    return files;
}

HfExportSummary export_hf(CausalLM& model, const std::string& model_dir,
                          const std::string& out_dir, const HfExportOptions& options) {
    torch::NoGradGuard no_grad;
    const char* dtype_name = hf_dtype_name(options.dtype);
    if (out_dir.empty()) throw_invalid("the output directory is empty", "pass --out DIR");
    if (fs::exists(out_dir) && !(fs::is_directory(out_dir) && fs::is_empty(out_dir)))
        throw Error(ErrorKind::conflict, out_dir + ": already exists and is not empty",
                    "choose a new --out directory; llmtune never overwrites a model");
    const fs::path base_config = fs::path(model_dir) / "config.json";
    if (!fs::exists(base_config))
        throw Error(ErrorKind::not_found, base_config.string() + ": no such file",
                    "--model must be a Hugging Face model directory");
    // Fails with not_found (and a hint) before any work when there is no tokenizer.
    tokenizer::find_tokenizer_files(model_dir);

    if (has_lora(model)) merge_lora(model);
    ordered_json config = read_ordered_json_file(base_config.string());
    if (!config.is_object()) throw_invalid(base_config.string() + ": must be a JSON object");
    config["torch_dtype"] = dtype_name;
    if (config.contains("dtype")) config["dtype"] = dtype_name;  // newer transformers' key

    NamedTensors state = model_state(model);
    for (auto& [name, t] : state) t = t.detach().to(torch::kCPU, options.dtype);

    // Build in a sibling temp directory and rename, so a failure leaves no half-written model.
    fs::path out = fs::absolute(out_dir).lexically_normal();
    if (out.filename().empty()) out = out.parent_path();
    const fs::path tmp =
        out.parent_path() / ("." + out.filename().string() + ".tmp." + std::to_string(getpid()));
    std::error_code ec;
    fs::create_directories(out.parent_path(), ec);
    if (ec)
        throw_io(out.parent_path().string() + ": cannot create: " + ec.message(),
                 "check the --out path and its permissions");
    fs::remove_all(tmp, ec);
    if (!fs::create_directory(tmp, ec) || ec)
        throw_io(tmp.string() + ": cannot create: " + (ec ? ec.message() : "exists"),
                 "check that the output's parent directory is writable");
    HfExportSummary summary;
    try {
        write_checkpoint(tmp.string(), state, options.max_shard_bytes);
        state.clear();
        write_json_file((tmp / "config.json").string(), config);
        for (const auto& name : hf_export_copied_files()) {
            const fs::path src = fs::path(model_dir) / name;
            if (fs::exists(src)) fs::copy_file(src, tmp / name);
        }
        if (fs::exists(out)) fs::remove(out);  // an empty directory, checked above
        fs::rename(tmp, out);
    } catch (...) {
        fs::remove_all(tmp, ec);
        throw;
    }
    for (const auto& e : fs::directory_iterator(out)) {
        summary.files.push_back(e.path().filename().string());
        summary.bytes += e.file_size();
    }
    std::sort(summary.files.begin(), summary.files.end());
    return summary;
}

}  // namespace llmtune::model
