// `llmtune export`: usage, errors with exit codes and hints, and both formats through the binary.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/json_file.h"
#include "model/loader.h"
#include "model/lora.h"
#include "model/peft_adapter.h"
#include "support/test_support.h"
#include "unit/model/gguf_test_model.h"

using namespace llmtune;
namespace fs = std::filesystem;

namespace {

std::string q(const std::string& s) {
    return "'" + s + "'";
}

struct TinyModel {
    test::TempDir dir;
    std::string model = dir.file("model");
    TinyModel() {
        // The small tokenizer keeps the model (and each export) tiny.
        test::write_small_bpe_tokenizer(dir.file("tok"));
        test::make_tiny_model("qwen3", dir.file("tok"), model);
    }
    test::RunResult run(const std::string& args) {
        return test::run_command(test::llmtune_binary() + " export --model " + q(model) + " " + args);
    }
};

}  // namespace

TEST(CliExport, HelpNamesEveryFlag) {
    auto r = test::run_command(test::llmtune_binary() + " export --help");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const char* flag : {"--model", "--adapter", "--format", "--out", "--dtype", "--name", "q8_0"})
        EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
}

TEST(CliExport, WritesGgufAndHf) {
    TinyModel m;
    auto r = m.run("--format gguf --dtype q8_0 --out " + q(m.dir.file("m.gguf")));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("GGUF qwen3, q8_0, tokenizer gpt2/qwen2"), std::string::npos) << r.out;
    EXPECT_EQ(test::read_file(m.dir.file("m.gguf")).substr(0, 4), "GGUF");
    r = m.run("--format hf --out " + q(m.dir.file("hf")));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(read_json_file(m.dir.file("hf/config.json"))["torch_dtype"], "float32");  // the base's
    r = m.run("--format hf --dtype bf16 --out " + q(m.dir.file("hf16")));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(read_json_file(m.dir.file("hf16/config.json"))["torch_dtype"], "bfloat16");
}

TEST(CliExport, BadInputExitsWithPreciseErrors) {
    TinyModel m;
    auto r = m.run("--format gguf --dtype q4_k --out " + q(m.dir.file("x.gguf")));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("llmtune: error: unknown GGUF tensor type 'q4_k'"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("hint: choose one of: f32, f16, bf16, q8_0"), std::string::npos) << r.err;

    r = m.run("--format hf --dtype q8_0 --out " + q(m.dir.file("x")));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("--dtype 'q8_0' is not a Hugging Face weight dtype"), std::string::npos) << r.err;

    r = m.run("--format onnx --out " + q(m.dir.file("x")));
    EXPECT_EQ(r.exit_code, 2) << r.err;

    r = m.run("--format gguf --out " + q(m.dir.file("no/such/dir/x.gguf")));
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_NE(r.err.find("no such directory"), std::string::npos) << r.err;

    fs::create_directories(m.dir.file("ro"));
    fs::permissions(m.dir.file("ro"), fs::perms::owner_read | fs::perms::owner_exec);
    r = m.run("--format gguf --out " + q(m.dir.file("ro/x.gguf")));
    if (::geteuid() != 0) {  // root writes anywhere
        EXPECT_EQ(r.exit_code, 3);
        EXPECT_NE(r.err.find("not writable"), std::string::npos) << r.err;
    }
    fs::permissions(m.dir.file("ro"), fs::perms::owner_all);

    test::write_file(m.dir.file("exists.gguf"), "x");
    r = m.run("--format gguf --out " + q(m.dir.file("exists.gguf")));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;

    fs::remove(m.model + "/tokenizer.json");
    r = m.run("--format gguf --out " + q(m.dir.file("x.gguf")));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("tokenizer"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(m.dir.file("x.gguf")));
    r = m.run("--format hf --out " + q(m.dir.file("x")));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_FALSE(fs::exists(m.dir.file("x")));
}

TEST(CliExport, AdapterIsMergedIntoTheHfExport) {
    TinyModel m;
    auto lm = model::load_causal_lm(m.model, {});
    model::LoraConfig lc;
    lc.target_modules = {"all-linear"};
    model::apply_lora(lm, lc, 2);
    {
        torch::NoGradGuard g;
        torch::manual_seed(4);
        for (auto& p : model::lora_parameters(lm)) p.second.normal_(0, 0.3);
    }
    model::save_peft_adapter(m.dir.file("adapter"), lm, lc, m.model);
    auto r = m.run("--adapter " + q(m.dir.file("adapter")) + " --format hf --out " + q(m.dir.file("merged")));
    ASSERT_EQ(r.exit_code, 0) << r.err;

    torch::NoGradGuard g;
    model::ForwardArgs a;
    a.input_ids = torch::tensor({{3, 256, 17, 200, 9}}, torch::kInt64);
    auto unmerged = lm->forward(a);
    auto base = model::load_causal_lm(m.model, {});
    auto merged = model::load_causal_lm(m.dir.file("merged"), {});
    EXPECT_LE((merged->forward(a) - unmerged).abs().max().item<float>(), 1e-5f);
    EXPECT_GT((base->forward(a) - unmerged).abs().max().item<float>(), 1e-3f);  // it mattered
}
