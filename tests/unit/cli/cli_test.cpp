#include <gtest/gtest.h>

#include <algorithm>

#include "common/json_file.h"
#include "support/test_support.h"

using namespace llmtune;
using test::run_command;

namespace {
std::string bin() {
    return test::llmtune_binary();
}
}  // namespace

TEST(Cli, HelpOnEveryCommand) {
    for (std::string cmd :
         {"", "model", "model init", "model info", "generate", "bench", "bench decode",
          "bench tokenize", "tokenize", "detokenize", "chat-template", "chat"}) {
        auto r = run_command(bin() + " " + cmd + " --help");
        EXPECT_EQ(r.exit_code, 0) << cmd << ": " << r.err;
        EXPECT_NE(r.out.find("Usage"), std::string::npos) << cmd;
    }
}

TEST(Cli, UsageErrorsExitTwo) {
    EXPECT_EQ(run_command(bin() + " no-such-command").exit_code, 2);
    EXPECT_EQ(run_command(bin() + " model init --preset tiny").exit_code, 2);  // missing --out
    EXPECT_EQ(run_command(bin()).exit_code, 2);
    EXPECT_EQ(run_command(bin() + " tokenize --tokenizer x.json").exit_code,
              2);                                                        // no --text/--file
    EXPECT_EQ(run_command(bin() + " generate --model m").exit_code, 2);  // no prompt
}

TEST(Cli, InvalidInputExitsOneWithErrorAndHint) {
    test::TempDir tmp;
    test::write_file(tmp.file("config.json"), "{\"architectures\": [\"BertModel\"]}");
    auto r = run_command(bin() + " model info " + tmp.path());
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err.rfind("llmtune: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find("BertModel"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("\nhint: "), std::string::npos) << r.err;
}

TEST(Cli, InitInfoGenerateFlow) {
    test::TempDir tmp;
    std::string dir = tmp.file("m");
    auto init = run_command(bin() + " model init --arch llama --preset tiny --tokenizer " +
                            test::npm_tokenizer_dir("llama2") + " --out " + dir + " --dtype bf16");
    ASSERT_EQ(init.exit_code, 0) << init.err;
    auto info = run_command(bin() + " model info --json " + dir);
    ASSERT_EQ(info.exit_code, 0) << info.err;
    auto j = json::parse(info.out);
    EXPECT_EQ(j["architecture"], "LlamaForCausalLM");
    EXPECT_EQ(j["stored_dtypes"].begin().key(), "BF16");
    EXPECT_TRUE(j["tokenizer"]["chat_template"].get<bool>());
    auto gen = run_command(bin() + " generate --model " + dir +
                           " --prompt-ids 1,450,4996 --max-tokens 5 --temperature 0 --json");
    ASSERT_EQ(gen.exit_code, 0) << gen.err;
    auto g = json::parse(gen.out);
    EXPECT_EQ(g["prompt_tokens"], 3);
    EXPECT_LE(g["tokens"].size(), 5u);
    // A second init into the same directory must refuse and keep the model.
    auto again = run_command(bin() + " model init --arch llama --preset tiny --tokenizer " +
                             test::npm_tokenizer_dir("llama2") + " --out " + dir);
    EXPECT_EQ(again.exit_code, 1);
    EXPECT_EQ(run_command(bin() + " model info " + dir).exit_code, 0);
}

TEST(Cli, BadGenerateArgumentsAreInvalidInput) {
    test::TempDir tmp;
    auto r = run_command(bin() + " generate --model " + tmp.path() + " --prompt-ids 1,x,3");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("'x'"), std::string::npos) << r.err;
    r = run_command(bin() + " generate --model " + tmp.path() + " --prompt-ids 1 --top-p 2");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("top_p"), std::string::npos) << r.err;
}

TEST(Cli, TextFlowThroughTheTokenizerAndChatTemplate) {
    test::TempDir tmp;
    std::string dir = tmp.file("m");
    ASSERT_EQ(run_command(bin() + " model init --arch qwen3 --preset tiny --tokenizer " +
                          test::npm_tokenizer_dir("qwen3") + " --out " + dir)
                  .exit_code,
              0);
    // tokenize then detokenize gives the text back
    auto tok = run_command(bin() + " tokenize --model " + dir + " --text 'Hello, world'");
    ASSERT_EQ(tok.exit_code, 0) << tok.err;
    std::string ids = tok.out.substr(0, tok.out.find('\n'));
    auto detok = run_command(bin() + " detokenize --model " + dir + " --ids " + ids);
    ASSERT_EQ(detok.exit_code, 0) << detok.err;
    EXPECT_EQ(detok.out, "Hello, world\n");
    // the chat template renders the conversation with the end-of-turn markers
    test::write_file(tmp.file("msgs.json"), R"([{"role": "user", "content": "Hi"}])");
    auto chat = run_command(bin() + " chat-template --model " + dir + " --messages " +
                            tmp.file("msgs.json") + " --add-generation-prompt");
    ASSERT_EQ(chat.exit_code, 0) << chat.err;
    EXPECT_NE(chat.out.find("<|im_start|>user\nHi<|im_end|>"), std::string::npos) << chat.out;
    // generate from text: the JSON's text is the detokenized tokens
    auto gen = run_command(bin() + " generate --model " + dir +
                           " --prompt Hello --max-tokens 6 --temperature 0 --json");
    ASSERT_EQ(gen.exit_code, 0) << gen.err;
    auto g = json::parse(gen.out);
    std::string gen_ids;
    for (const auto& id : g["tokens"])
        gen_ids += (gen_ids.empty() ? "" : ",") + std::to_string(id.get<int64_t>());
    if (!gen_ids.empty()) {
        auto back = run_command(bin() + " detokenize --model " + dir + " --ids " + gen_ids);
        EXPECT_EQ(back.out, g["text"].get<std::string>() + "\n");
    }
}

TEST(Cli, ChatAnswersEachLineThroughTheTemplate) {
    test::TempDir tmp;
    std::string dir = tmp.file("m");
    ASSERT_EQ(run_command(bin() + " model init --arch llama --preset tiny --tokenizer " +
                          test::npm_tokenizer_dir("llama3") + " --out " + dir)
                  .exit_code,
              0);
    test::write_file(tmp.file("in.txt"), "Hello\nHow are you?\n");
    auto r = run_command(bin() + " chat --model " + dir + " --max-tokens 4 --temperature 0 < " +
                         tmp.file("in.txt"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // one prompt per line read plus the final one that meets end of input
    size_t prompts = 0;
    for (size_t p = r.err.find("> "); p != std::string::npos; p = r.err.find("> ", p + 2))
        ++prompts;
    EXPECT_EQ(prompts, 3u) << r.err;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;
}
