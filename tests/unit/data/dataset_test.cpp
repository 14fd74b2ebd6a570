// The pipeline: files in, canonical JSONL and a report out; strictness; split; token counts.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "data/dataset.h"
#include "data/dataset_stats.h"
#include "data/split.h"
#include "data_test_util.h"
#include "tokenizer/jinja/chat_template.h"
#include "tokenizer/tokenizer.h"

using namespace llmtune;
using namespace llmtune::data;
using namespace llmtune::data::test_util;
using llmtune::test::TempDir;
using llmtune::test::write_file;

namespace {

std::string chat_line(const std::string& q, const std::string& a) {
    return json{{"messages",
                 {{{"role", "user"}, {"content", q}}, {{"role", "assistant"}, {"content", a}}}}}
               .dump() +
           "\n";
}

}  // namespace

TEST(DataDataset, ConvertsEveryShapeToCanonicalJsonl) {
    TempDir tmp;
    struct Case {
        std::string name, content, kind;
    };
    std::vector<Case> cases = {
        {"chat.jsonl", chat_line("q", "a"), "chat"},
        {"pc.jsonl", "{\"prompt\": \"q\", \"completion\": \"a\"}\n", "chat"},
        {"alpaca.json", "[{\"instruction\": \"q\", \"input\": \"\", \"output\": \"a\"}]", "chat"},
        {"sharegpt.jsonl",
         "{\"conversations\": [{\"from\": \"human\", \"value\": \"q\"}, {\"from\": \"gpt\", "
         "\"value\": \"a\"}]}\n",
         "chat"},
        {"text.jsonl", "{\"text\": \"some text\"}\n", "text"},
        {"pref.jsonl", "{\"prompt\": \"q\", \"chosen\": \"a\", \"rejected\": \"b\"}\n",
         "preference"},
        {"qa.csv", "question,answer\nq,a\n", "chat"},
        {"plain.txt", "Some plain text.\n", "text"},
    };
    for (const auto& c : cases) {
        write_file(tmp.file(c.name), c.content);
        std::string out = tmp.file(c.name + ".out.jsonl");
        auto report = convert_dataset(tmp.file(c.name), {}, {out, "", ""});
        EXPECT_EQ(report.kept, 1u) << c.name;
        EXPECT_EQ(report.kinds[c.kind], 1u) << c.name;
        auto recs = read_jsonl(out);
        ASSERT_EQ(recs.size(), 1u) << c.name;
        EXPECT_EQ(canonical_kind(recs[0]).has_value(), true) << c.name;
        EXPECT_EQ(record_kind_name(*canonical_kind(recs[0])), c.kind) << c.name;
        if (c.kind == "chat") {
            EXPECT_EQ(recs[0]["messages"].back()["content"], "a") << c.name;
            EXPECT_EQ(recs[0]["messages"][0]["content"], "q") << c.name;
        }
        // Round trip: the canonical output converts to itself.
        std::string again = tmp.file(c.name + ".again.jsonl");
        convert_dataset(out, {}, {again, "", ""});
        EXPECT_EQ(llmtune::test::read_file(again), llmtune::test::read_file(out)) << c.name;
    }
}

TEST(DataDataset, CompressedInputsConvertLikePlainOnes) {
    TempDir tmp;
    std::string text;
    for (int i = 0; i < 500; ++i)
        text += chat_line("q" + std::to_string(i), "a" + std::to_string(i));
    write_file(tmp.file("p.jsonl"), text);
    write_file(tmp.file("g.jsonl.gz"), gzip_bytes(text));
    write_file(tmp.file("z.jsonl.zst"), zstd_bytes(text));
    convert_dataset(tmp.file("p.jsonl"), {}, {tmp.file("p.out"), "", ""});
    auto g = convert_dataset(tmp.file("g.jsonl.gz"), {}, {tmp.file("g.out"), "", ""});
    auto z = convert_dataset(tmp.file("z.jsonl.zst"), {}, {tmp.file("z.out"), "", ""});
    EXPECT_EQ(g.compression, "gzip");
    EXPECT_EQ(z.compression, "zstd");
    EXPECT_EQ(g.kept, 500u);
    EXPECT_EQ(llmtune::test::read_file(tmp.file("g.out")),
              llmtune::test::read_file(tmp.file("p.out")));
    EXPECT_EQ(llmtune::test::read_file(tmp.file("z.out")),
              llmtune::test::read_file(tmp.file("p.out")));
}

TEST(DataDataset, StrictByDefaultAndSkipInvalidDropsAndReports) {
    TempDir tmp;
    write_file(tmp.file("d.jsonl"), chat_line("q1", "a1") + "{oops\n" +
                                        "{\"messages\": [{\"role\": \"user\", \"content\": 1}]}\n" +
                                        chat_line("q2", "a2"));
    std::string out = tmp.file("out.jsonl"), rep = tmp.file("r.json");
    EXPECT_EQ(expect_error(
                  [&] {
                      convert_dataset(tmp.file("d.jsonl"), {}, {out, "", rep});
                  },
                  {"2 invalid records", "line 2", "line 3", "$.messages[0].content"}),
              "");
    EXPECT_FALSE(std::filesystem::exists(out));  // atomic: nothing written on failure
    auto failed = json::parse(llmtune::test::read_file(rep));
    EXPECT_EQ(failed["errors"]["total"], 2);

    DataOptions skip;
    skip.skip_invalid = true;
    auto report = convert_dataset(tmp.file("d.jsonl"), skip, {out, "", rep});
    EXPECT_EQ(report.kept, 2u);
    EXPECT_EQ(report.dropped, 2u);
    EXPECT_EQ(report.dropped_reasons["invalid_json"], 1u);
    EXPECT_EQ(report.dropped_reasons["invalid_field"], 1u);
    ASSERT_EQ(report.errors.size(), 2u);
    EXPECT_EQ(report.errors[0].line, 2u);
    EXPECT_EQ(report.errors[1].line, 3u);
    EXPECT_EQ(report.errors[1].path, "$.messages[0].content");
    EXPECT_EQ(read_jsonl(out).size(), 2u);
    auto j = json::parse(llmtune::test::read_file(rep));
    EXPECT_EQ(j["records"]["kept"], 2);
    EXPECT_EQ(j["errors"]["items"][1]["line"], 3);
    EXPECT_NE(report.to_text().find("line 3"), std::string::npos);
}

TEST(DataDataset, ErrorListIsCappedButCountedInFull) {
    TempDir tmp;
    std::string text;
    for (int i = 0; i < 250; ++i)
        text += "{\"text\": 1}\n";
    text += "{\"text\": \"fine\"}\n";
    write_file(tmp.file("many.jsonl"), text);
    DataOptions o;
    o.skip_invalid = true;
    auto r = scan_dataset(tmp.file("many.jsonl"), o, nullptr);
    EXPECT_EQ(r.error_total, 250u);
    EXPECT_EQ(r.errors.size(), 100u);
    EXPECT_EQ(r.to_json()["errors"]["shown"], 100);
}

TEST(DataDataset, ErrorsInCsvNameTheColumnAndInJsonArraysThePath) {
    TempDir tmp;
    write_file(tmp.file("a.json"), "{\"data\": [{\"text\": \"ok\"}, {\"text\": 5}]}");
    DataOptions o;
    o.skip_invalid = true;
    auto r = scan_dataset(tmp.file("a.json"), o, nullptr);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].path, "$.data[1].text");
    write_file(tmp.file("c.csv"), "instruction,output,notes\nsay hi,hi,x\n,,y\n");
    auto c = scan_dataset(tmp.file("c.csv"), o, nullptr);
    EXPECT_EQ(c.columns, "instruction=instruction,output=output");
    EXPECT_EQ(c.warning_counts["unused_column"], 1u);
    EXPECT_EQ(c.kept, 2u);  // empty cells are empty strings: valid, with a warning
    EXPECT_EQ(c.warning_counts["empty_assistant"], 1u);
}

TEST(DataDataset, MixedShapesFailUnlessFormatIsGiven) {
    TempDir tmp;
    write_file(tmp.file("m.jsonl"), chat_line("q", "a") + "{\"text\": \"t\"}\n");
    EXPECT_EQ(expect_error([&] { scan_dataset(tmp.file("m.jsonl"), {}, nullptr); },
                           {"mixes shapes", "OpenAI chat", "text"}),
              "");
    DataOptions o;
    o.format = "openai_chat";
    o.skip_invalid = true;
    auto r = scan_dataset(tmp.file("m.jsonl"), o, nullptr);
    EXPECT_EQ(r.kept, 1u);
    EXPECT_EQ(r.dropped, 1u);
    EXPECT_EQ(r.shape_source, "--format");
}

TEST(DataDataset, DuplicatesAreWarnedWithTheFirstLine) {
    TempDir tmp;
    write_file(tmp.file("d.jsonl"),
               chat_line("q", "a") + chat_line("x", "y") + chat_line("q", "a"));
    auto r = scan_dataset(tmp.file("d.jsonl"), {}, nullptr);
    ASSERT_EQ(r.warning_counts["duplicate"], 1u);
    bool found = false;
    for (const auto& w : r.warnings)
        if (w.code == "duplicate") {
            found = true;
            EXPECT_EQ(w.line, 3u);
            EXPECT_NE(w.message.find("line 1"), std::string::npos);
        }
    EXPECT_TRUE(found);
}

TEST(DataSplit, DeterministicSizedAndDuplicatesStayTogether) {
    std::vector<uint64_t> hashes;
    for (int i = 0; i < 1000; ++i)
        hashes.push_back(content_hash("record " + std::to_string(i % 700)));
    SplitOptions o = parse_split("0.1", 42);
    auto a = plan_split(hashes, o), b = plan_split(hashes, o);
    EXPECT_EQ(a, b);
    size_t val = std::count(a.begin(), a.end(), true);
    EXPECT_EQ(val, 100u);
    for (size_t i = 0; i < hashes.size(); ++i)
        for (size_t k = i + 1; k < hashes.size(); k += 97)
            if (hashes[i] == hashes[k]) {
                EXPECT_EQ(a[i], a[k]);
            }
    for (size_t i = 0; i + 700 < hashes.size(); ++i)
        EXPECT_EQ(a[i], a[i + 700]);  // exact duplicates
    auto c = plan_split(hashes, parse_split("0.1", 43));
    EXPECT_NE(a, c);  // another seed, another split
    auto n = plan_split(hashes, parse_split("37", 1));
    EXPECT_EQ(std::count(n.begin(), n.end(), true), 37);
    EXPECT_EQ(
        expect_error([&] { plan_split(hashes, parse_split("1000", 1)); }, {"none for training"}),
        "");
    EXPECT_EQ(expect_error([&] { parse_split("1.5", 1); }, {"1.5"}), "");
    EXPECT_EQ(expect_error([&] { parse_split("-2", 1); }, {"-2"}), "");
}

TEST(DataSplit, StreamingPlanEqualsTheInMemoryPlan) {
    // Exact duplicates (groups of 1 to 40 records), so the boundary passes over groups.
    std::vector<uint64_t> mixed;
    for (int64_t i = 0; i < 300000; ++i)
        mixed.push_back(content_hash("record " + std::to_string((i * 7919) % 250000)));
    for (int i = 0; i < 40; ++i)
        mixed.push_back(content_hash("popular"));
    // Every record three times: a count that is not a multiple of 3 leaves room no group fits,
    // so every key after the boundary is looked at, over many passes of at most 3000 keys.
    std::vector<uint64_t> triples;
    for (int i = 0; i < 60000; ++i)
        triples.push_back(content_hash("triple " + std::to_string(i / 3)));
    struct Case {
        const std::vector<uint64_t>* hashes;
        std::string value;
        int min_passes;
    };
    const std::vector<Case> cases = {{&mixed, "0.1", 1},     {&mixed, "0.5", 1},
                                     {&mixed, "0.97", 1},    {&mixed, "1", 1},
                                     {&mixed, "3000", 1},    {&triples, "0.1", 1},
                                     {&triples, "3001", 10}};
    for (const Case& c : cases) {
        for (uint64_t seed : {0ull, 7ull}) {
            const std::vector<uint64_t>& hashes = *c.hashes;
            SplitOptions o = parse_split(c.value, seed);
            const std::vector<bool> want = plan_split(hashes, o);
            int passes = 0;
            auto for_each = [&](const std::function<void(uint64_t)>& visit) {
                ++passes;
                for (uint64_t h : hashes)
                    visit(h);
            };
            const SplitPlan plan =
                plan_split_streaming(for_each, static_cast<int64_t>(hashes.size()), o, 3000);
            for (size_t i = 0; i < hashes.size(); ++i)
                ASSERT_EQ(plan.to_validation(hashes[i]), want[i])
                    << c.value << " seed " << seed << " record " << i;
            EXPECT_GE(passes, c.min_passes) << c.value;
        }
    }
    SplitOptions all = parse_split("300040", 1);
    EXPECT_THROW(plan_split_streaming([&](const std::function<void(uint64_t)>&) {}, 300040, all),
                 Error);
}

TEST(DataSplit, ConvertWritesBothSidesWithoutOverlap) {
    TempDir tmp;
    std::string text;
    for (int i = 0; i < 200; ++i)
        text += chat_line("q" + std::to_string(i % 150), "a");
    write_file(tmp.file("d.jsonl"), text);
    auto r = convert_dataset(tmp.file("d.jsonl"), {}, {tmp.file("train.jsonl"), "", ""},
                             parse_split("0.2", 7));
    EXPECT_TRUE(r.split);
    EXPECT_EQ(r.validation_output, tmp.file("train.validation.jsonl"));
    auto train = read_jsonl(tmp.file("train.jsonl")),
         val = read_jsonl(tmp.file("train.validation.jsonl"));
    EXPECT_EQ(train.size() + val.size(), 200u);
    EXPECT_EQ(val.size(), 40u);
    EXPECT_EQ(r.validation_records, 40u);
    std::set<std::string> t;
    for (const auto& x : train)
        t.insert(x.dump());
    for (const auto& x : val)
        EXPECT_EQ(t.count(x.dump()), 0u) << x.dump();
    EXPECT_FALSE(std::filesystem::exists(tmp.file("train.jsonl.all.tmp")));
}

TEST(DataStats, PercentilesAreNearestRank) {
    TokenStats s;
    for (int i = 1; i <= 100; ++i)
        s.add(i, i / 2);
    EXPECT_EQ(s.count(), 100);
    EXPECT_EQ(s.min(), 1);
    EXPECT_EQ(s.max(), 100);
    EXPECT_EQ(s.percentile(0.5), 50);
    EXPECT_EQ(s.percentile(0.95), 95);
    EXPECT_DOUBLE_EQ(s.mean(), 50.5);
    EXPECT_EQ(s.total(), 5050);
    TokenStats one;
    one.add(7, 7);
    EXPECT_EQ(one.percentile(0.95), 7);
}

TEST(DataTokens, CountsMatchTheTokenizerAndTemplateAndFlagLongRecords) {
    std::string model = llmtune::test::npm_tokenizer_dir("qwen3");
    TempDir tmp;
    std::string long_answer;
    for (int i = 0; i < 200; ++i)
        long_answer += "word ";
    write_file(tmp.file("c.jsonl"),
               chat_line("hello", "hi there") + chat_line("tell me", long_answer));
    DataOptions o;
    o.model = model;
    o.max_seq_len = 100;
    auto r = scan_dataset(tmp.file("c.jsonl"), o, nullptr);
    ASSERT_TRUE(r.tokens);
    EXPECT_EQ(r.tokens->count(), 2);
    // Independent count: render each conversation with the template and encode it.
    auto tok = tokenizer::Tokenizer::load(model);
    auto tmpl = tokenizer::ChatTemplate::from_tokenizer_config(model);
    int64_t total = 0, trainable = 0;
    for (auto [q, a] :
         {std::pair<std::string, std::string>{"hello", "hi there"}, {"tell me", long_answer}}) {
        tokenizer::ChatTemplateInputs in;
        tokenizer::load_special_tokens(model, in);
        in.messages = ordered_json::array({{{"role", "user"}, {"content", q}}});
        in.add_generation_prompt = true;
        int64_t prefix = static_cast<int64_t>(tok->encode(tmpl.render(in), false).size());
        in.messages.push_back({{"role", "assistant"}, {"content", a}});
        in.add_generation_prompt = false;
        int64_t full = static_cast<int64_t>(tok->encode(tmpl.render(in), false).size());
        total += full;
        trainable += full - prefix;
    }
    EXPECT_EQ(r.tokens->total(), total);
    EXPECT_EQ(r.tokens->trainable_total(), trainable);
    EXPECT_GT(trainable, 200);
    EXPECT_EQ(r.warning_counts["too_long"], 1u);
    EXPECT_EQ(r.to_json()["tokens"]["max_seq_len"], 100);
}

TEST(DataTokens, MaxSeqLenNeedsAModel) {
    TempDir tmp;
    write_file(tmp.file("t.jsonl"), "{\"text\": \"x\"}\n");
    DataOptions o;
    o.max_seq_len = 10;
    EXPECT_EQ(expect_error([&] { scan_dataset(tmp.file("t.jsonl"), o, nullptr); }, {"--model"}),
              "");
}

TEST(DataDataset, EveryReaderErrorKindIsReportedWithItsCode) {
    TempDir tmp;
    DataOptions o;
    o.skip_invalid = true;
    write_file(tmp.file("u.jsonl"), "{\"text\": \"ok\"}\n{\"foo\": 1, \"bar\": 2}\n");
    auto u = scan_dataset(tmp.file("u.jsonl"), o, nullptr);
    ASSERT_EQ(u.errors.size(), 1u);
    EXPECT_EQ(u.errors[0].code, "unknown_shape");
    EXPECT_EQ(u.errors[0].line, 2u);
    EXPECT_NE(u.errors[0].message.find("foo"), std::string::npos) << u.errors[0].message;
    EXPECT_NE(u.errors[0].message.find("bar"), std::string::npos) << u.errors[0].message;
    write_file(tmp.file("q.csv"), "text\n\"quoted\" tail\nfine\n");
    auto q = scan_dataset(tmp.file("q.csv"), o, nullptr);
    ASSERT_EQ(q.errors.size(), 1u);
    EXPECT_EQ(q.errors[0].code, "invalid_csv");
    EXPECT_EQ(q.errors[0].line, 2u);
    EXPECT_EQ(q.kept, 1u);
    // Nothing in the file fits a shape: every record is an error, and strict mode says so.
    write_file(tmp.file("n.jsonl"), "{\"a\": 1}\n");
    EXPECT_EQ(expect_error([&] { validate_dataset(tmp.file("n.jsonl"), {}); },
                           {"1 invalid record", "fits no known shape"}),
              "");
}

TEST(DataSplit, ValidationOutputMustNotOverwriteTheOthers) {
    TempDir tmp;
    write_file(tmp.file("d.jsonl"), chat_line("a", "b") + chat_line("c", "d"));
    EXPECT_EQ(expect_error(
                  [&] {
                      convert_dataset(tmp.file("d.jsonl"), {},
                                      {tmp.file("o.jsonl"), tmp.file("o.jsonl"), ""},
                                      parse_split("1", 0));
                  },
                  {"would overwrite"}),
              "");
    EXPECT_FALSE(std::filesystem::exists(tmp.file("o.jsonl")));
}

TEST(DataDataset, ReportStaysValidUtf8WhenTheParserQuotesACutCharacter) {
    // Found by fuzz_jsonl_reader: nlohmann's message quoted half of a two-byte character.
    TempDir tmp;
    write_file(tmp.file("f.jsonl"), std::string("{\xde\x8f"
                                                "essages\"{\": [",
                                                16));
    DataOptions o;
    o.skip_invalid = true;
    auto r = scan_dataset(tmp.file("f.jsonl"), o, nullptr);
    ASSERT_EQ(r.error_total, 1u);
    EXPECT_NO_THROW((void)r.to_json().dump());
    EXPECT_NO_THROW((void)json(format_error(r.errors[0])).dump());
}

TEST(DataTokens, TextRecordsCountEveryTokenAndPreferenceCountsTheChosenSide) {
    std::string model = llmtune::test::npm_tokenizer_dir("qwen3");
    auto tok = tokenizer::Tokenizer::load(model);
    TempDir tmp;
    write_file(tmp.file("t.jsonl"),
               "{\"text\": \"The quick brown fox jumps over the lazy dog.\"}\n");
    DataOptions o;
    o.model = model;
    auto t = scan_dataset(tmp.file("t.jsonl"), o, nullptr);
    ASSERT_TRUE(t.tokens);
    // Training appends the end-of-sequence token (Qwen3's encode adds none), so it counts too.
    ASSERT_TRUE(tok->eos_id());
    int64_t n = static_cast<int64_t>(
                    tok->encode("The quick brown fox jumps over the lazy dog.", true).size()) +
                1;
    EXPECT_EQ(t.tokens->total(), n);
    EXPECT_EQ(t.tokens->trainable_total(), n);

    write_file(tmp.file("p.jsonl"),
               "{\"prompt\": \"2+2?\", \"chosen\": \"four, as two plus two is four\", "
               "\"rejected\": \"five\"}\n");
    auto p = scan_dataset(tmp.file("p.jsonl"), o, nullptr);
    ASSERT_TRUE(p.tokens);
    auto tmpl = tokenizer::ChatTemplate::from_tokenizer_config(model);
    tokenizer::ChatTemplateInputs in;
    tokenizer::load_special_tokens(model, in);
    in.messages = ordered_json::array({{{"role", "user"}, {"content", "2+2?"}}});
    in.add_generation_prompt = true;
    int64_t prefix = static_cast<int64_t>(tok->encode(tmpl.render(in), false).size());
    in.messages.push_back({{"role", "assistant"}, {"content", "four, as two plus two is four"}});
    in.add_generation_prompt = false;
    int64_t full = static_cast<int64_t>(tok->encode(tmpl.render(in), false).size());
    EXPECT_EQ(p.tokens->total(), full);
    EXPECT_EQ(p.tokens->trainable_total(), full - prefix);
}
