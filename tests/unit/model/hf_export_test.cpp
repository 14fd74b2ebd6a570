// export_hf: the merged directory reloads with the loader and computes what the model (and the
// unmerged base + adapter) computed.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/error.h"
#include "common/json_file.h"
#include "gguf_test_model.h"
#include "model/hf_export.h"
#include "model/loader.h"
#include "model/lora.h"
#include "model/safetensors.h"
#include "support/test_support.h"

using namespace llmtune;
using namespace llmtune::model;
namespace fs = std::filesystem;

namespace {

torch::Tensor logits_of(CausalLM& lm) {
    torch::NoGradGuard g;
    ForwardArgs a;
    a.input_ids = torch::tensor({{5, 17, 256, 99, 3, 42, 258, 7}}, torch::kInt64);
    return lm->forward(a);
}

void add_trained_adapter(CausalLM& lm) {
    LoraConfig lc;
    lc.r = 4;
    lc.target_modules = {"all-linear"};
    apply_lora(lm, lc, 11);
    torch::manual_seed(5);
    for (auto& p : lm->named_parameters())
        if (p.key().find("lora_B") != std::string::npos) p.value().data().normal_(0, 0.05);
}

}  // namespace

TEST(HfExport, MergedF32ReloadsWithTheSameLogits) {
    test::TempDir dir;
    test::write_small_bpe_tokenizer(dir.file("tok"));
    test::make_tiny_model("llama", dir.file("tok"), dir.file("base"));
    auto lm = load_causal_lm(dir.file("base"), {});
    add_trained_adapter(lm);
    auto unmerged = logits_of(lm);
    auto base_logits = logits_of(*std::make_unique<CausalLM>(load_causal_lm(dir.file("base"), {})));
    ASSERT_FALSE(torch::allclose(unmerged, base_logits, 0, 1e-3));  // the adapter matters

    auto s = export_hf(lm, dir.file("base"), dir.file("out"), HfExportOptions{});
    EXPECT_FALSE(has_lora(lm));
    auto merged_in_memory = logits_of(lm);
    auto reloaded = load_causal_lm(dir.file("out"), {});
    auto merged = logits_of(reloaded);
    EXPECT_TRUE(torch::equal(merged, merged_in_memory));
    EXPECT_LE((merged - unmerged).abs().max().item<float>(), 1e-5f);

    for (const char* f : {"config.json", "model.safetensors", "generation_config.json",
                          "tokenizer.json", "tokenizer_config.json"})
        EXPECT_TRUE(std::count(s.files.begin(), s.files.end(), f)) << f;
    EXPECT_EQ(test::read_file(dir.file("out/tokenizer.json")), test::read_file(dir.file("base/tokenizer.json")));
    EXPECT_EQ(test::read_file(dir.file("out/generation_config.json")),
              test::read_file(dir.file("base/generation_config.json")));
    auto cfg = read_json_file(dir.file("out/config.json"));
    EXPECT_EQ(cfg["torch_dtype"], "float32");
    EXPECT_EQ(cfg["architectures"][0], "LlamaForCausalLM");
    auto ck = Checkpoint::open_dir(dir.file("out"));
    for (const auto& n : ck.names()) EXPECT_EQ(n.find("lora"), std::string::npos) << n;
    // Nothing but the output directory was created beside it.
    int entries = 0;
    for (const auto& e : fs::directory_iterator(dir.path())) entries += e.path().filename() != "" ? 1 : 0;
    EXPECT_EQ(entries, 3);  // tok, base, out
}

TEST(HfExport, Bf16WritesBf16WeightsAndSaysSo) {
    test::TempDir dir;
    test::write_small_bpe_tokenizer(dir.file("tok"));
    test::make_tiny_model("qwen3", dir.file("tok"), dir.file("base"));
    auto lm = load_causal_lm(dir.file("base"), {});
    HfExportOptions o;
    o.dtype = torch::kBFloat16;
    export_hf(lm, dir.file("base"), dir.file("out"), o);
    EXPECT_EQ(read_json_file(dir.file("out/config.json"))["torch_dtype"], "bfloat16");
    auto ck = Checkpoint::open_dir(dir.file("out"));
    EXPECT_EQ(ck.tensor("model.embed_tokens.weight").scalar_type(), torch::kBFloat16);
    EXPECT_TRUE(torch::equal(ck.tensor("model.layers.0.mlp.up_proj.weight"),
                             lm->model->layers[0]->as<DecoderLayerImpl>()->mlp->up_proj->weight.to(torch::kBFloat16)));
    LoadOptions lo;
    lo.dtype = torch::kBFloat16;
    auto back = load_causal_lm(dir.file("out"), lo);
    auto base_bf16 = load_causal_lm(dir.file("base"), lo);  // rounds f32 -> bf16 as the export did
    EXPECT_TRUE(torch::equal(logits_of(back), logits_of(base_bf16)));
}

TEST(HfExport, BadInputGivesPreciseErrorsAndLeavesNothing) {
    test::TempDir dir;
    test::write_small_bpe_tokenizer(dir.file("tok"));
    test::make_tiny_model("qwen2", dir.file("tok"), dir.file("base"));
    auto lm = load_causal_lm(dir.file("base"), {});
    // A non-empty output directory.
    fs::create_directories(dir.file("full"));
    test::write_file(dir.file("full/x"), "x");
    try {
        export_hf(lm, dir.file("base"), dir.file("full"), {});
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::conflict);
        EXPECT_EQ(e.message(), dir.file("full") + ": already exists and is not empty");
    }
    // An unsupported dtype.
    HfExportOptions o;
    o.dtype = torch::kFloat64;
    try {
        export_hf(lm, dir.file("base"), dir.file("out"), o);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
        EXPECT_NE(e.hint().find("f32, f16 or bf16"), std::string::npos);
    }
    // An output under a file (cannot be created).
    try {
        export_hf(lm, dir.file("base"), dir.file("full/x/out"), {});
        FAIL();
    } catch (const Error& e) {
        EXPECT_TRUE(e.kind() == ErrorKind::io || e.kind() == ErrorKind::not_found) << e.message();
    }
    // A model directory without a tokenizer.
    fs::remove(dir.file("base/tokenizer.json"));
    try {
        export_hf(lm, dir.file("base"), dir.file("out"), {});
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::not_found) << e.message();
    }
    EXPECT_FALSE(fs::exists(dir.file("out")));
    for (const auto& e : fs::directory_iterator(dir.path()))
        EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
}
