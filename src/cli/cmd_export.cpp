// llmtune export: write a model (with a LoRA adapter merged in) as a Hugging Face directory or
// a GGUF file for llama.cpp and Ollama.
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "cli/cli_common.h"
#include "common/error.h"
#include "common/progress.h"
#include "model/gguf_export.h"
#include "model/hf_export.h"
#include "model/loader.h"
#include "model/peft_adapter.h"

namespace fs = std::filesystem;

namespace llmtune::cli {

namespace {

// The dtype a Hugging Face export keeps by default: the base checkpoint's.
std::string base_dtype_short(const model::ModelConfig& cfg) {
    if (cfg.torch_dtype == "bfloat16") return "bf16";
    if (cfg.torch_dtype == "float16") return "f16";
    return "f32";
}

// Fails before the (slow) model load when the output cannot be written.
void check_output_path(const std::string& out, bool directory) {
    fs::path p = fs::absolute(out).lexically_normal();
    if (p.filename().empty()) p = p.parent_path();
    if (!directory) {
        if (fs::is_directory(p))
            throw_invalid(out + ": is a directory", "--out for --format gguf names a file, e.g. model.gguf");
        if (fs::exists(p))
            throw Error(ErrorKind::conflict, out + ": already exists",
                        "remove it or choose another --out; llmtune never overwrites an export");
    }
    fs::path parent = p.parent_path();
    while (!parent.empty() && !fs::exists(parent) && directory) parent = parent.parent_path();
    if (!fs::is_directory(parent))
        throw_io(parent.string() + ": no such directory", "create it first, or choose another --out");
    if (::access(parent.c_str(), W_OK) != 0)
        throw_io(parent.string() + ": not writable", "choose an --out in a directory you can write");
}

}  // namespace

void register_export(CLI::App& app) {
    struct Args {
        std::string model_dir, adapter, format, out, dtype, name;
        int threads = 0;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand(
        "export",
        "Write a model, with a LoRA adapter merged in, as a Hugging Face directory (--format hf) "
        "or a GGUF file for llama.cpp and Ollama (--format gguf)");
    cmd->add_option("--model", args->model_dir, "the base Hugging Face model directory")
        ->required();
    cmd->add_option("--adapter", args->adapter, "a PEFT LoRA adapter directory to merge in");
    cmd->add_option("--format", args->format, "hf | gguf")
        ->required()
        ->check(CLI::IsMember({"hf", "gguf"}));
    cmd->add_option("--out", args->out,
                    "hf: a new directory (must not exist or be empty); gguf: a new file")
        ->required();
    cmd->add_option("--dtype", args->dtype,
                    "weights: f32 | f16 | bf16 for hf (default: the base model's dtype); "
                    "f32 | f16 | bf16 | q8_0 for gguf (default: f16, as llama.cpp's converter; "
                    "norms and biases always stay f32)");
    cmd->add_option("--name", args->name, "gguf: general.name (default: the model directory's name)");
    cmd->add_option("--threads", args->threads, "CPU threads (0 = one per core)")
        ->capture_default_str();
    cmd->callback([args] {
        set_threads(args->threads);
        const bool gguf = args->format == "gguf";
        auto cfg = model::load_model_config(args->model_dir);
        const std::string dtype =
            !args->dtype.empty() ? args->dtype : gguf ? "f16" : base_dtype_short(cfg);
        model::GgmlType gguf_type = model::GgmlType::f16;
        torch::Dtype hf_dtype = torch::kFloat32;
        if (gguf) {
            gguf_type = model::parse_ggml_type(dtype);
        } else {
            if (dtype != "f32" && dtype != "f16" && dtype != "bf16")
                throw_invalid("--dtype '" + dtype + "' is not a Hugging Face weight dtype",
                              "use f32, f16 or bf16 with --format hf (q8_0 is for --format gguf)");
            hf_dtype = model::parse_dtype(dtype);
        }
        if (!gguf && !args->name.empty()) usage_error("--name applies to --format gguf only");
        check_output_path(args->out, !gguf);

        // Loaded in f32 (exact for every stored dtype) unless both ends are bf16; the merge sums
        // in f32 either way.
        model::LoadOptions lo;
        const bool bf16_through = cfg.torch_dtype == "bfloat16" && dtype == "bf16";
        lo.dtype = bf16_through ? torch::kBFloat16 : torch::kFloat32;
        auto lm = model::load_causal_lm(args->model_dir, lo);
        if (!args->adapter.empty()) model::load_peft_adapter(args->adapter, lm);

        if (gguf) {
            model::GgufExportOptions o;
            o.type = gguf_type;
            o.name = args->name;
            const std::string label = "writing " + fs::path(args->out).filename().string();
            std::unique_ptr<Progress> bar;
            uint64_t shown = 0;
            o.progress = [&](uint64_t done, uint64_t total) {
                if (!bar) bar = std::make_unique<Progress>(label, static_cast<int64_t>(total >> 20), "MiB");
                bar->advance(static_cast<int64_t>((done >> 20) - shown));
                shown = done >> 20;
            };
            auto s = model::export_gguf(lm, args->model_dir, args->out, o);
            if (bar) bar->finish();
            for (const auto& w : s.warnings) std::fprintf(stderr, "llmtune: warning: %s\n", w.c_str());
            std::printf("wrote %s: GGUF %s, %s, tokenizer %s%s%s, %zu tensors, %.1f MiB\n",
                        args->out.c_str(), s.architecture.c_str(), dtype.c_str(),
                        s.tokenizer_model.c_str(), s.pre_tokenizer.empty() ? "" : "/",
                        s.pre_tokenizer.c_str(), s.tensors, static_cast<double>(s.bytes) / (1 << 20));
        } else {
            model::HfExportOptions o;
            o.dtype = hf_dtype;
            auto s = model::export_hf(lm, args->model_dir, args->out, o);
            std::string files;
            for (const auto& f : s.files) files += (files.empty() ? "" : ", ") + f;
            std::printf("wrote %s: Hugging Face %s, %s, %.1f MiB (%s)\n", args->out.c_str(),
                        model::architecture_class_name(cfg.arch), dtype.c_str(),
                        static_cast<double>(s.bytes) / (1 << 20), files.c_str());
        }
    });
}

}  // namespace llmtune::cli
