// Readers: lines over plain/gzip/zstd files, JSONL, JSON documents, CSV/TSV, text chunks.
#include <gtest/gtest.h>

#include "data/csv_columns.h"
#include "data/csv_reader.h"
#include "data/json_array_reader.h"
#include "data/jsonl_reader.h"
#include "data/line_reader.h"
#include "data/record_source.h"
#include "data/text_chunker.h"
#include "data_test_util.h"

using namespace llmtune;
using namespace llmtune::data;
using llmtune::test::TempDir;
using llmtune::test::write_file;
using namespace llmtune::data::test_util;

namespace {

std::vector<std::string> all_lines(const std::string& path, size_t max = kDefaultMaxLineBytes) {
    LineReader r(path, max);
    std::vector<std::string> out;
    std::string line;
    while (r.next(line))
        out.push_back(line);
    return out;
}

}  // namespace

TEST(DataLineReader, SplitsLfAndCrlfAndKeepsALastLineWithoutNewline) {
    TempDir tmp;
    write_file(tmp.file("a.txt"), "one\r\ntwo\n\nthree");
    EXPECT_EQ(all_lines(tmp.file("a.txt")), (std::vector<std::string>{"one", "two", "", "three"}));
    write_file(tmp.file("b.txt"), "x\n");
    EXPECT_EQ(all_lines(tmp.file("b.txt")), (std::vector<std::string>{"x"}));
    write_file(tmp.file("c.txt"), "");
    EXPECT_TRUE(all_lines(tmp.file("c.txt")).empty());
}

TEST(DataLineReader, LinesLongerThanTheBufferAreWhole) {
    TempDir tmp;
    std::string big(3 << 20, 'x');  // 3 MiB: spans several 1 MiB buffer refills
    write_file(tmp.file("big.txt"), "a\n" + big + "\nb\n");
    auto lines = all_lines(tmp.file("big.txt"));
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[1], big);
    EXPECT_EQ(lines[2], "b");
}

TEST(DataLineReader, OverlongLineIsAnErrorNamingTheLine) {
    TempDir tmp;
    write_file(tmp.file("a.jsonl"), "{}\n{}\n" + std::string(5000, 'y') + "\n{}\n");
    EXPECT_EQ(expect_error([&] { all_lines(tmp.file("a.jsonl"), 1000); },
                           {"a.jsonl", "line 3", "longer than"}),
              "");
}

TEST(DataLineReader, ReadsGzipAndZstdByMagicBytes) {
    TempDir tmp;
    std::string text;
    for (int i = 0; i < 20000; ++i)
        text += "line " + std::to_string(i) + "\n";
    // Names without the usual extensions: detection is by content.
    write_file(tmp.file("g.data"), gzip_bytes(text));
    write_file(tmp.file("z.data"), zstd_bytes(text));
    for (const char* name : {"g.data", "z.data"}) {
        auto lines = all_lines(tmp.file(name));
        ASSERT_EQ(lines.size(), 20000u) << name;
        EXPECT_EQ(lines[12345], "line 12345") << name;
    }
    InputFile g(tmp.file("g.data")), z(tmp.file("z.data"));
    EXPECT_EQ(g.compression(), Compression::gzip);
    EXPECT_EQ(z.compression(), Compression::zstd);
}

TEST(DataLineReader, ConcatenatedGzipMembersReadAsOneStream) {
    TempDir tmp;
    write_file(tmp.file("c.gz"), gzip_bytes("a\nb\n") + gzip_bytes("c\n"));
    EXPECT_EQ(all_lines(tmp.file("c.gz")), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(DataLineReader, TruncatedOrCorruptCompressedDataIsAnError) {
    TempDir tmp;
    std::string text(100000, 'q');
    text += "\n";
    std::string gz = gzip_bytes(text), zs = zstd_bytes(text);
    write_file(tmp.file("t.gz"), gz.substr(0, gz.size() / 2));
    EXPECT_EQ(expect_error([&] { all_lines(tmp.file("t.gz")); }, {"t.gz", "gzip"}), "");
    write_file(tmp.file("t.zst"), zs.substr(0, zs.size() - 4));
    EXPECT_EQ(expect_error([&] { all_lines(tmp.file("t.zst")); }, {"t.zst", "zstd"}), "");
    std::string bad = gz;
    for (size_t i = 20; i < 40 && i < bad.size(); ++i)
        bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    write_file(tmp.file("bad.gz"), bad);
    EXPECT_EQ(expect_error([&] { all_lines(tmp.file("bad.gz")); }, {"bad.gz", "gzip"}), "");
}

TEST(DataLineReader, MissingFileIsNotFound) {
    try {
        LineReader r("/nonexistent/file.jsonl");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::not_found);
    }
}

TEST(DataJsonl, RecordsWithErrorsCarryLineColumnAndSnippet) {
    TempDir tmp;
    write_file(tmp.file("a.jsonl"),
               "\xEF\xBB\xBF{\"text\": \"ok\"}\n"
               "\n"
               "{\"text\": \"broken\",}\n"
               "[1, 2]\n"
               "{\"text\": \"bad \xff byte\"}\n"
               "  \n"
               "{\"text\": \"last\"}");
    JsonlReader r(tmp.file("a.jsonl"));
    auto recs = read_all(r);
    ASSERT_EQ(recs.size(), 5u);
    EXPECT_FALSE(recs[0].error);
    EXPECT_EQ(recs[0].value["text"], "ok");
    EXPECT_EQ(recs[0].line, 1u);
    ASSERT_TRUE(recs[1].error);
    EXPECT_EQ(recs[1].error->line, 3u);
    EXPECT_EQ(recs[1].error->code, "invalid_json");
    EXPECT_NE(recs[1].error->message.find("column 19"), std::string::npos)
        << recs[1].error->message;
    EXPECT_NE(recs[1].error->snippet.find("broken"), std::string::npos);
    ASSERT_TRUE(recs[2].error);
    EXPECT_EQ(recs[2].error->code, "not_an_object");
    EXPECT_NE(recs[2].error->message.find("an array"), std::string::npos);
    ASSERT_TRUE(recs[3].error);
    EXPECT_EQ(recs[3].error->code, "invalid_utf8");
    EXPECT_EQ(recs[3].error->line, 5u);
    EXPECT_NE(recs[3].error->message.find("0xff"), std::string::npos) << recs[3].error->message;
    EXPECT_EQ(recs[4].line, 7u);
    EXPECT_EQ(recs[4].value["text"], "last");
}

TEST(DataJsonl, DeeplyNestedValueIsARecordErrorNotACrash) {
    TempDir tmp;
    std::string deep = "{\"text\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
    write_file(tmp.file("d.jsonl"), deep + "\n{\"text\": \"fine\"}\n");
    JsonlReader r(tmp.file("d.jsonl"));
    auto recs = read_all(r);
    ASSERT_EQ(recs.size(), 2u);
    ASSERT_TRUE(recs[0].error);
    EXPECT_EQ(recs[0].error->code, "too_deep");
    EXPECT_FALSE(recs[1].error);
}

TEST(DataJsonl, ScalarRecordsAreNotObjects) {
    TempDir tmp;
    write_file(tmp.file("s.jsonl"), "\"just a string\"\n42\nnull\n");
    JsonlReader r(tmp.file("s.jsonl"));
    auto recs = read_all(r);
    ASSERT_EQ(recs.size(), 3u);
    for (const auto& rec : recs) {
        ASSERT_TRUE(rec.error);
        EXPECT_EQ(rec.error->code, "not_an_object");
    }
}

TEST(DataJsonArray, TopLevelArrayElementsGetPathsAndLines) {
    TempDir tmp;
    write_file(tmp.file("a.json"), "[\n  {\"text\": \"a, ] }\"},\n  {\"text\": \"b\"},\n  7\n]\n");
    JsonArrayReader r(tmp.file("a.json"));
    auto recs = read_all(r);
    ASSERT_EQ(recs.size(), 3u);
    EXPECT_EQ(recs[0].value["text"], "a, ] }");
    EXPECT_EQ(recs[1].line, 3u);
    EXPECT_EQ(recs[1].location, "$[1]");
    ASSERT_TRUE(recs[2].error);
    EXPECT_EQ(recs[2].error->path, "$[2]");
    EXPECT_EQ(recs[2].error->line, 4u);
}

TEST(DataJsonArray, ObjectHoldingOneArray) {
    TempDir tmp;
    write_file(tmp.file("o.json"),
               "{\"version\": 2, \"meta\": {\"x\": [1]}, \"data\": [{\"text\": \"a\"}, {\"text\": "
               "\"b\"}], \"n\": 2}");
    JsonArrayReader r(tmp.file("o.json"));
    auto recs = read_all(r);
    ASSERT_EQ(recs.size(), 2u);
    EXPECT_EQ(recs[1].location, "$.data[1]");
    EXPECT_EQ(recs[1].value["text"], "b");
}

TEST(DataJsonArray, StructureErrorsAreFatalAndNameTheLine) {
    TempDir tmp;
    write_file(tmp.file("two.json"), "{\"a\": [{\"text\": \"x\"}],\n \"b\": []}");
    EXPECT_EQ(expect_error(
                  [&] {
                      JsonArrayReader r(tmp.file("two.json"));
                      read_all(r);
                  },
                  {"more than one array", "\"a\"", "\"b\""}),
              "");
    write_file(tmp.file("comma.json"), "[{\"text\": \"x\"}\n {\"text\": \"y\"}]");
    EXPECT_EQ(expect_error(
                  [&] {
                      JsonArrayReader r(tmp.file("comma.json"));
                      read_all(r);
                  },
                  {"line 2", "expected ','"}),
              "");
    write_file(tmp.file("open.json"), "[{\"text\": \"x\"},\n");
    EXPECT_EQ(expect_error(
                  [&] {
                      JsonArrayReader r(tmp.file("open.json"));
                      read_all(r);
                  },
                  {"not closed"}),
              "");
    write_file(tmp.file("trail.json"), "[{\"text\": \"x\"}] junk");
    EXPECT_EQ(expect_error(
                  [&] {
                      JsonArrayReader r(tmp.file("trail.json"));
                      read_all(r);
                  },
                  {"after the end"}),
              "");
    write_file(tmp.file("none.json"), "{\"a\": 1}");
    EXPECT_EQ(expect_error(
                  [&] {
                      JsonArrayReader r(tmp.file("none.json"));
                      read_all(r);
                  },
                  {"no array"}),
              "");
}

TEST(DataCsv, Rfc4180QuotingNewlinesBomAndCrlf) {
    TempDir tmp;
    write_file(tmp.file("a.csv"),
               "\xEF\xBB\xBFprompt,completion\r\n"
               "\"say \"\"hi\"\"\",\"line one\r\nline two\"\r\n"
               "plain,\"with, comma\"\r\n"
               "\r\n"
               "x,\n");
    CsvReader r(tmp.file("a.csv"), ',');
    std::vector<CsvRow> rows;
    CsvRow row;
    while (r.next(row))
        rows.push_back(row);
    ASSERT_EQ(rows.size(), 4u);
    EXPECT_EQ(rows[0].fields, (std::vector<std::string>{"prompt", "completion"}));
    EXPECT_EQ(rows[1].fields, (std::vector<std::string>{"say \"hi\"", "line one\r\nline two"}));
    EXPECT_EQ(rows[2].line, 4u);
    EXPECT_EQ(rows[2].fields, (std::vector<std::string>{"plain", "with, comma"}));
    EXPECT_EQ(rows[3].line, 6u);
    EXPECT_EQ(rows[3].fields, (std::vector<std::string>{"x", ""}));
}

TEST(DataCsv, MalformedQuotesAreRowErrorsAndUnclosedQuoteIsFatal) {
    TempDir tmp;
    write_file(tmp.file("q.csv"), "a,b\nx\"y,z\n\"p\"q,r\nok,fine\n");
    CsvReader r(tmp.file("q.csv"), ',');
    CsvRow row;
    ASSERT_TRUE(r.next(row));
    ASSERT_TRUE(r.next(row));
    EXPECT_NE(row.error.find("quote inside"), std::string::npos);
    ASSERT_TRUE(r.next(row));
    EXPECT_NE(row.error.find("after the closing quote"), std::string::npos);
    ASSERT_TRUE(r.next(row));
    EXPECT_TRUE(row.error.empty());
    EXPECT_EQ(row.fields, (std::vector<std::string>{"ok", "fine"}));
    write_file(tmp.file("open.csv"), "a,b\nx,y\n\"never\nclosed,z\n");
    EXPECT_EQ(expect_error(
                  [&] {
                      CsvReader r2(tmp.file("open.csv"), ',');
                      while (r2.next(row)) {
                      }
                  },
                  {"line 3", "never closed"}),
              "");
}

TEST(DataCsv, RaggedRowsAreErrorsNamingTheLine) {
    TempDir tmp;
    write_file(tmp.file("r.csv"), "question,answer\nq1,a1\nq2\nq3,a3,extra\n");
    CsvRecordSource src(tmp.file("r.csv"), ',', "");
    auto recs = read_all(src);
    ASSERT_EQ(recs.size(), 3u);
    EXPECT_FALSE(recs[0].error);
    EXPECT_EQ(recs[0].value, (json{{"prompt", "q1"}, {"completion", "a1"}}));
    ASSERT_TRUE(recs[1].error);
    EXPECT_EQ(recs[1].error->code, "ragged_row");
    EXPECT_EQ(recs[1].error->line, 3u);
    ASSERT_TRUE(recs[2].error);
    EXPECT_EQ(recs[2].error->line, 4u);
}

TEST(DataCsv, ColumnDetectionAndExplicitMapping) {
    std::vector<std::string> alpaca = {"Instruction", "input", "output", "system"};
    auto m = detect_columns(alpaca, "f.csv");
    EXPECT_EQ(m.describe(alpaca),
              "instruction=Instruction,output=output,input=input,system=system");
    std::vector<std::string> io = {"input", "output"};
    EXPECT_EQ(detect_columns(io, "f.csv").describe(io), "prompt=input,completion=output");
    std::vector<std::string> both = {"text", "question", "answer"};
    EXPECT_EQ(expect_error([&] { detect_columns(both, "f.csv"); },
                           {"two shapes", "prompt/completion", "text"}),
              "");
    std::vector<std::string> none = {"foo", "bar"};
    EXPECT_EQ(expect_error([&] { detect_columns(none, "f.csv"); }, {"\"foo\"", "\"bar\""}), "");
    std::vector<std::string> custom = {"q", "a", "note"};
    auto c = parse_column_spec("prompt=q,completion=a", custom, "f.csv");
    EXPECT_EQ(c.describe(custom), "prompt=q,completion=a");
    EXPECT_EQ(c.unused, (std::vector<std::string>{"note"}));
    EXPECT_EQ(expect_error([&] { parse_column_spec("prompt=nope", custom, "f.csv"); },
                           {"no column \"nope\""}),
              "");
    EXPECT_EQ(
        expect_error([&] { parse_column_spec("answer=a", custom, "f.csv"); }, {"unknown field"}),
        "");
}

TEST(DataCsv, TsvAndInvalidUtf8Cells) {
    TempDir tmp;
    write_file(tmp.file("a.tsv"), "text\nhello world\nbad \xc3\x28 cell\n");
    CsvRecordSource src(tmp.file("a.tsv"), '\t', "");
    auto recs = read_all(src);
    ASSERT_EQ(recs.size(), 2u);
    EXPECT_EQ(recs[0].value["text"], "hello world");
    ASSERT_TRUE(recs[1].error);
    EXPECT_EQ(recs[1].error->code, "invalid_utf8");
    EXPECT_EQ(recs[1].error->path, "column \"text\"");
}

TEST(DataTextChunker, ChunksRespectTheSizeAndKeepEveryWord) {
    TempDir tmp;
    std::string text;
    for (int p = 0; p < 50; ++p) {
        for (int w = 0; w < 40; ++w)
            text += "word" + std::to_string(p * 100 + w) + " ";
        text += "\n\n";
    }
    write_file(tmp.file("a.txt"), text);
    TextChunker chunker(tmp.file("a.txt"), 1000);
    auto recs = read_all(chunker);
    ASSERT_GT(recs.size(), 5u);
    std::string joined;
    for (const auto& r : recs) {
        ASSERT_FALSE(r.error);
        std::string t = r.value["text"];
        EXPECT_LE(t.size(), 1000u);
        EXPECT_FALSE(t.empty());
        joined += t + " ";
    }
    // Every word appears, in order, exactly once.
    size_t at = 0;
    for (int p = 0; p < 50; ++p)
        for (int w = 0; w < 40; ++w) {
            std::string word = "word" + std::to_string(p * 100 + w) + " ";
            size_t f = joined.find(word, at);
            ASSERT_NE(f, std::string::npos) << word;
            at = f + word.size();
        }
}

TEST(DataTextChunker, LongLineWithoutSpacesSplitsOnCharacterBoundaries) {
    TempDir tmp;
    std::string s;
    for (int i = 0; i < 500; ++i)
        s += "\xc3\xa9";  // é: two bytes each
    write_file(tmp.file("u.txt"), s);
    TextChunker chunker(tmp.file("u.txt"), 99);
    auto recs = read_all(chunker);
    std::string joined;
    for (const auto& r : recs) {
        ASSERT_FALSE(r.error);
        joined += r.value["text"].get<std::string>();
    }
    EXPECT_EQ(joined, s);
}

TEST(DataRecordSource, BinaryAndEmptyFilesAreRejected) {
    TempDir tmp;
    std::string bin =
        "\x7f"
        "ELF";
    bin += std::string(100, '\0');
    write_file(tmp.file("b.jsonl"), bin);
    EXPECT_EQ(expect_error([&] { open_record_source(tmp.file("b.jsonl"), {}); }, {"binary"}), "");
    write_file(tmp.file("e.jsonl"), "");
    EXPECT_EQ(expect_error([&] { open_record_source(tmp.file("e.jsonl"), {}); }, {"empty"}), "");
    write_file(tmp.file("x.zip"), std::string("PK\x03\x04", 4) + "rest");
    EXPECT_EQ(expect_error([&] { open_record_source(tmp.file("x.zip"), {}); }, {"zip"}), "");
    write_file(tmp.file("x.parquet"), "{\"text\": \"x\"}\n");
    EXPECT_EQ(expect_error([&] { open_record_source(tmp.file("x.parquet"), {}); },
                           {"cannot tell the format"}),
              "");
}

TEST(DataRecordSource, FormatFromExtensionAndContent) {
    TempDir tmp;
    write_file(tmp.file("lines.json"), "{\"text\": \"a\"}\n{\"text\": \"b\"}\n");
    EXPECT_EQ(open_record_source(tmp.file("lines.json"), {}).format, InputFormat::jsonl);
    write_file(tmp.file("doc.json"), "{\n  \"data\": [{\"text\": \"a\"}]\n}\n");
    EXPECT_EQ(open_record_source(tmp.file("doc.json"), {}).format, InputFormat::json);
    write_file(tmp.file("oneline.json"), "{\"data\": [{\"text\": \"a\"}]}\n");
    EXPECT_EQ(open_record_source(tmp.file("oneline.json"), {}).format, InputFormat::json);
    write_file(tmp.file("d.csv.zst"), zstd_bytes("text\nhello\n"));
    auto z = open_record_source(tmp.file("d.csv.zst"), {});
    EXPECT_EQ(z.format, InputFormat::csv);
    EXPECT_EQ(z.compression, "zstd");
}
