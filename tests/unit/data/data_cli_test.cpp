// llmtune data validate|convert|preview through the real binary: exit codes, messages, files.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/json_file.h"
#include "support/test_support.h"

using namespace llmtune;
using test::run_command;
using test::TempDir;
using test::write_file;

namespace {
std::string bin() {
    return test::llmtune_binary();
}
}  // namespace

TEST(DataCli, HelpOnEveryDataCommand) {
    for (std::string cmd :
         {"data", "data validate", "data convert", "data preview", "bench data"}) {
        auto r = run_command(bin() + " " + cmd + " --help");
        EXPECT_EQ(r.exit_code, 0) << cmd << ": " << r.err;
        EXPECT_NE(r.out.find("Usage"), std::string::npos) << cmd;
    }
}

TEST(DataCli, ValidateGoodAndBadFiles) {
    TempDir tmp;
    write_file(tmp.file("good.jsonl"),
               "{\"prompt\": \"q\", \"completion\": \"a\"}\n{\"prompt\": \"q2\", \"completion\": "
               "\"a2\"}\n");
    auto ok = run_command(bin() + " data validate " + tmp.file("good.jsonl") + " --json");
    ASSERT_EQ(ok.exit_code, 0) << ok.err;
    auto j = json::parse(ok.out);
    EXPECT_EQ(j["shape"], "prompt_completion");
    EXPECT_EQ(j["records"]["kept"], 2);

    write_file(
        tmp.file("bad.jsonl"),
        "{\"prompt\": \"q\", \"completion\": \"a\"}\n{\"prompt\": \"q\", \"completion\": [1]}\n");
    auto bad = run_command(bin() + " data validate " + tmp.file("bad.jsonl"));
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_EQ(bad.err.rfind("llmtune: error: ", 0), 0u) << bad.err;
    EXPECT_NE(bad.err.find("\nhint: "), std::string::npos) << bad.err;
    EXPECT_NE(bad.out.find("line 2, $.completion"), std::string::npos) << bad.out;

    auto missing = run_command(bin() + " data validate " + tmp.file("nope.jsonl"));
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_NE(missing.err.find("no such file"), std::string::npos) << missing.err;
    EXPECT_EQ(run_command(bin() + " data validate").exit_code, 2);
}

TEST(DataCli, ConvertWithSplitReportAndSkipInvalid) {
    TempDir tmp;
    std::string text = "question,answer\n";
    for (int i = 0; i < 50; ++i)
        text += "q" + std::to_string(i) + ",a" + std::to_string(i) + "\n";
    text += "ragged\n";
    write_file(tmp.file("d.csv"), text);
    std::string out = tmp.file("out.jsonl"), rep = tmp.file("r.json");
    auto strict = run_command(bin() + " data convert " + tmp.file("d.csv") + " --out " + out +
                              " --report " + rep);
    EXPECT_EQ(strict.exit_code, 1);
    EXPECT_NE(strict.err.find("line 52"), std::string::npos) << strict.err;
    EXPECT_FALSE(std::filesystem::exists(out));
    auto r = run_command(bin() + " data convert " + tmp.file("d.csv") + " --out " + out +
                         " --report " + rep + " --skip-invalid --split 10 --seed 3");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = read_json_file(rep);
    EXPECT_EQ(j["records"]["kept"], 50);
    EXPECT_EQ(j["records"]["dropped_reasons"]["ragged_row"], 1);
    EXPECT_EQ(j["split"]["validation"], 10);
    EXPECT_EQ(j["split"]["train"], 40);
    EXPECT_TRUE(std::filesystem::exists(tmp.file("out.validation.jsonl")));
}

TEST(DataCli, ConvertWithExplicitColumnsAndFormatErrors) {
    TempDir tmp;
    write_file(tmp.file("d.csv"), "q,a\nhello,world\n");
    auto no_map =
        run_command(bin() + " data convert " + tmp.file("d.csv") + " --out " + tmp.file("o.jsonl"));
    EXPECT_EQ(no_map.exit_code, 1);
    EXPECT_NE(no_map.err.find("--columns"), std::string::npos) << no_map.err;
    auto mapped = run_command(bin() + " data convert " + tmp.file("d.csv") + " --out " +
                              tmp.file("o.jsonl") + " --columns prompt=q,completion=a");
    ASSERT_EQ(mapped.exit_code, 0) << mapped.err;
    auto line = json::parse(test::read_file(tmp.file("o.jsonl")));
    EXPECT_EQ(line["messages"][1]["content"], "world");
    auto bad_format =
        run_command(bin() + " data validate " + tmp.file("o.jsonl") + " --format nonsense");
    EXPECT_EQ(bad_format.exit_code, 1);
    EXPECT_NE(bad_format.err.find("nonsense"), std::string::npos);
}

TEST(DataCli, PreviewShowsCanonicalRecords) {
    TempDir tmp;
    write_file(tmp.file("a.jsonl"),
               "{\"instruction\": \"Add\", \"input\": \"1 2\", \"output\": \"3\"}\n"
               "{\"instruction\": \"Sub\", \"output\": \"0\"}\n{\"instruction\": \"X\", "
               "\"output\": \"y\"}\n");
    auto r = run_command(bin() + " data preview " + tmp.file("a.jsonl") + " -n 2");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("Add\\n\\n1 2"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Sub"), std::string::npos);
    EXPECT_EQ(r.out.find("\"X\""), std::string::npos) << r.out;
    auto m = run_command(bin() + " data preview " + tmp.file("a.jsonl") + " -n 1 --model " +
                         test::npm_tokenizer_dir("qwen3"));
    ASSERT_EQ(m.exit_code, 0) << m.err;
    EXPECT_NE(m.out.find("<|im_start|>assistant"), std::string::npos) << m.out;
}

TEST(DataCli, ValidateJsonWithModelReportsTokensAndLongRecords) {
    TempDir tmp;
    std::string long_answer;
    for (int i = 0; i < 100; ++i)
        long_answer += "lorem ipsum ";
    write_file(tmp.file("c.jsonl"),
               "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": "
               "\"assistant\", \"content\": \"" +
                   long_answer + "\"}]}\n");
    auto r = run_command(bin() + " data validate " + tmp.file("c.jsonl") +
                         " --json --max-seq-len 50 --model " + test::npm_tokenizer_dir("qwen3"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = json::parse(r.out);
    EXPECT_EQ(j["tokens"]["count"], 1);
    EXPECT_GT(j["tokens"]["max"].get<int64_t>(), 50);
    EXPECT_EQ(j["warnings"]["by_code"]["too_long"], 1);
    auto no_model =
        run_command(bin() + " data validate " + tmp.file("c.jsonl") + " --max-seq-len 50");
    EXPECT_EQ(no_model.exit_code, 1);
    EXPECT_NE(no_model.err.find("--model"), std::string::npos) << no_model.err;
}
