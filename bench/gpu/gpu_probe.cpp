// llmtune_gpu_probe: the two things bench/gpu/check.sh needs from llmtune that the CLI does not
// print. Built only on request (EXCLUDE_FROM_ALL); runs on the CPU too.
//
//   init-adapter CONFIG OUT_DIR
//       The LoRA adapter `llmtune train CONFIG` starts from (before its first step), written as
//       a PEFT adapter, so a PEFT training loop can start from the same weights. The adapter
//       settings and seed come from CONFIG exactly as the trainer reads them; A is drawn in f32
//       on the CPU from the seed (model/lora.h), so it is the same on any device.
//   logits --model DIR [--adapter DIR] --ids 1,2,3 [--device D] [--dtype f32|bf16] --out FILE
//       One forward pass over the ids (batch 1); writes the logits as raw little-endian f32,
//       row-major (T, V), and prints {"tokens":T,"vocab":V,...} on stdout.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "cli/cli_common.h"
#include "common/error.h"
#include "model/lora.h"
#include "model/loader.h"
#include "model/peft_adapter.h"
#include "train/train_config.h"
#include "train/trainer.h"

namespace {

using namespace llmtune;

void init_adapter(const std::string& config_path, const std::string& out_dir) {
    const train::TrainConfig c = train::load_train_config(config_path);
    if (c.training.method != "lora")
        throw_invalid(config_path + ": training.method is '" + c.training.method + "', not lora");
    model::LoadOptions lo;  // f32 on the CPU: the draw does not depend on either
    auto lm = model::load_causal_lm(c.model.path, lo);
    const auto cfg = train::lora_config_of(c);
    model::apply_lora(lm, cfg, c.training.seed);
    model::save_peft_adapter(out_dir, lm, cfg, c.model.path);
    std::printf("{\"adapter\":\"%s\",\"seed\":%llu}\n", out_dir.c_str(),
                static_cast<unsigned long long>(c.training.seed));
}

void logits(const std::string& model_dir, const std::string& adapter, const std::string& ids_text,
            const std::string& device, const std::string& dtype, const std::string& out) {
    const auto ids = cli::parse_id_list(ids_text, "--ids");
    model::LoadOptions lo;
    lo.dtype = model::parse_dtype(dtype);
    lo.device = model::parse_device(device);
    auto lm = model::load_causal_lm(model_dir, lo);
    if (!adapter.empty()) model::load_peft_adapter(adapter, lm);
    lm->eval();
    torch::NoGradGuard no_grad;
    model::ForwardArgs a;
    a.input_ids = torch::tensor(ids, torch::kInt64).unsqueeze(0).to(lo.device);  // (1, T)
    auto y = lm->forward(a).to(torch::kCPU, torch::kFloat32).contiguous();      // (1, T, V)
    std::ofstream f(out, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(y.data_ptr<float>()),
            static_cast<std::streamsize>(y.numel() * sizeof(float)));
    if (!f) throw_io("cannot write " + out + ": " + errno_text(errno));
    std::printf("{\"tokens\":%lld,\"vocab\":%lld,\"device\":\"%s\",\"dtype\":\"%s\"}\n",
                static_cast<long long>(y.size(1)), static_cast<long long>(y.size(2)),
                device.c_str(), dtype.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"llmtune_gpu_probe: helpers for bench/gpu/check.sh"};
    app.require_subcommand(1);
    std::string config, out_dir;
    auto* ia = app.add_subcommand("init-adapter", "write the adapter `llmtune train` starts from");
    ia->add_option("config", config, "the training config")->required();
    ia->add_option("out", out_dir, "the adapter directory to write")->required();
    std::string model_dir, adapter, ids, device = "cpu", dtype = "f32", out;
    auto* lg = app.add_subcommand("logits", "one forward pass; raw f32 logits to --out");
    lg->add_option("--model", model_dir, "a Hugging Face model directory")->required();
    lg->add_option("--adapter", adapter, "a PEFT adapter to apply");
    lg->add_option("--ids", ids, "token ids, e.g. 1,2,3")->required();
    lg->add_option("--device", device, "cpu | cuda | cuda:N")->capture_default_str();
    lg->add_option("--dtype", dtype, "f32 | bf16")->capture_default_str();
    lg->add_option("--out", out, "the file to write")->required();
    CLI11_PARSE(app, argc, argv);
    try {
        if (*ia) init_adapter(config, out_dir);
        if (*lg) logits(model_dir, adapter, ids, device, dtype, out);
    } catch (const Error& e) {
        std::fprintf(stderr, "llmtune_gpu_probe: error: %s\n", e.message().c_str());
        if (!e.hint().empty()) std::fprintf(stderr, "hint: %s\n", e.hint().c_str());
        return e.kind() == ErrorKind::invalid_input ? 1 : 3;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "llmtune_gpu_probe: error: %s\n", e.what());
        return 4;
    }
    return 0;
}
