// llmtune train through the binary: help, exit codes and messages for bad configs, a short
// run's summary, and --resume.
#include <gtest/gtest.h>

#include "support/test_support.h"

using llmtune::test::run_command;
using llmtune::test::TempDir;
using llmtune::test::write_file;

namespace {

std::string bin() {
    return llmtune::test::llmtune_binary();
}

TEST(CliTrain, Help) {
    auto r = run_command(bin() + " train --help");
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_NE(r.out.find("--resume"), std::string::npos);
    EXPECT_NE(r.out.find("SIGTERM"), std::string::npos);
    EXPECT_EQ(run_command(bin() + " train").exit_code, 2);  // the config is required
}

TEST(CliTrain, BadConfigsExitOneWithEveryProblem) {
    TempDir d;
    write_file(d.file("c.yaml"),
               "model: {path: m}\ndata: {train: t.jsonl}\noutput: {dir: o}\n"
               "training: {learning_rat: 0.1, batch_size: 0}\n");
    auto r = run_command(bin() + " train " + d.file("c.yaml"));
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("llmtune: error: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("training.learning_rat (line 4): unknown key (did you mean "
                         "'learning_rate'?)"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("training.batch_size (line 4): must be >= 1"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("hint: see docs/config.md"), std::string::npos) << r.err;

    EXPECT_EQ(run_command(bin() + " train " + d.file("missing.yaml")).exit_code, 1);
    write_file(d.file("c.toml"), "");
    r = run_command(bin() + " train " + d.file("c.toml"));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find(".yaml, .yml or .json"), std::string::npos) << r.err;
}

TEST(CliTrain, ShortRunThenResumeOfAFinishedRun) {
    TempDir d;
    auto init = run_command(bin() + " model init --arch llama --preset tiny --tokenizer " +
                            llmtune::test::npm_tokenizer_dir("llama2") + " --out " + d.file("m"));
    ASSERT_EQ(init.exit_code, 0) << init.err;
    std::string data;
    for (int i = 0; i < 4; ++i)
        data += "{\"messages\": [{\"role\": \"user\", \"content\": \"Q" + std::to_string(i) +
                "\"}, {\"role\": \"assistant\", \"content\": \"A" + std::to_string(i) + "\"}]}\n";
    write_file(d.file("t.jsonl"), data);
    write_file(d.file("c.json"),
               R"({"model": {"path": "m"}, "data": {"train": "t.jsonl", "max_seq_len": 32},
                   "lora": {"r": 2}, "training": {"max_steps": 2, "batch_size": 2},
                   "output": {"dir": "out"}})");
    // Nothing to resume yet.
    auto r = run_command(bin() + " train " + d.file("c.json") + " --resume");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("no checkpoint to resume from"), std::string::npos) << r.err;

    r = run_command(bin() + " train " + d.file("c.json") + " --threads 1");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("trained 2/2 steps (completed)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("train_loss "), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("starting lora training: 4 examples, 2 steps"), std::string::npos)
        << r.err;

    // The same output directory again without --resume is refused.
    r = run_command(bin() + " train " + d.file("c.json"));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("already holds a training run"), std::string::npos) << r.err;
    // Resuming the finished run rewrites its results without training further.
    r = run_command(bin() + " train " + d.file("c.json") + " --resume step-2");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("trained 2/2 steps"), std::string::npos) << r.out;
    r = run_command(bin() + " train " + d.file("c.json") + " --resume step-7");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("no complete checkpoint at"), std::string::npos) << r.err;
}

}  // namespace
