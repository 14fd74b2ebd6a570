// The chat JSONL fast path against the general path: for every line it accepts, the canonical
// line and the warnings must be exactly what parse_record_text + convert_record give; and it
// must accept the common clean records (or the benchmark would not measure it).
#include <gtest/gtest.h>

#include <cstdio>
#include <optional>
#include <random>

#include "data/canonical_record.h"
#include "data/chat_fast_path.h"
#include "data/jsonl_reader.h"
#include "data/shape_detect.h"

using namespace llmtune;
using namespace llmtune::data;

namespace {

struct Result {
    std::string line;
    std::vector<std::string> warnings;  // "code: message"
};

std::optional<Result> general(const std::string& text) {
    SourceRecord rec;
    parse_record_text(text, 1, rec);
    if (rec.error) return std::nullopt;
    if (matching_shapes(rec.value) != std::vector<Shape>{Shape::openai_chat}) return std::nullopt;
    Conversion c = convert_record(Shape::openai_chat, rec.value);
    if (!c.record) return std::nullopt;
    Result r{to_jsonl_line(*c.record), {}};
    for (const auto& w : c.warnings)
        r.warnings.push_back(w.code + ": " + w.message);
    return r;
}

std::optional<Result> fast(ChatFastPath& fp, const std::string& text) {
    std::string padded = text;
    padded.reserve(text.size() + kFastPathPadding);
    std::string line;
    std::vector<RecordWarning> warnings;
    if (!fp.convert(padded, padded.capacity(), line, warnings)) return std::nullopt;
    Result r{line, {}};
    for (const auto& w : warnings)
        r.warnings.push_back(w.code + ": " + w.message);
    return r;
}

// Fast path accepted => general path accepted, with the same output. Returns whether the fast
// path accepted.
bool agree(ChatFastPath& fp, const std::string& text) {
    auto f = fast(fp, text);
    if (!f) return false;
    auto g = general(text);
    EXPECT_TRUE(g) << "the fast path accepted what the general path rejects: " << text;
    if (!g) return true;
    EXPECT_EQ(f->line, g->line) << text;
    EXPECT_EQ(f->warnings, g->warnings) << text;
    return true;
}

}  // namespace

TEST(ChatFastPath, TakesCleanChatRecordsWithTheGeneralPathsOutput) {
    ChatFastPath fp;
    const char* accepted[] = {
        R"({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})",
        R"({"messages":[{"content":"hi","role":"user"},{"role":"assistant","content":"yo","weight":1}]})",
        R"( {"messages" : [ {"role":"system","content":"s"} , {"role":"user","content":"q"}, {"role":"assistant","content":"a","weight":0}, {"role":"user","content":"q2"}, {"role":"assistant","content":"a2","weight":1.0} ] } )",
        R"({"messages": [{"role": "user", "content": "\u00e9\u4e2d\ud83d\ude00 \/ \" \\ \b\f\n\r\t \u0001 \u001F \u0000 \u007f"}, {"role": "assistant", "content": "données 训练"}]})",
        R"({"messages": [{"role": "user", "content": "x", "name": "bob"}, {"role": "assistant", "content": "y", "name": "\u0041l"}]})",
        R"({"messages": [{"role": "assistant", "content": "starts with the assistant"}]})",
        R"({"messages": [{"role": "user", "content": "no answer"}]})",
        R"({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": " \t\n\u0020"}]})",
        R"({"messages": [{"role": "user", "content": "q"}, {"role": "user", "content": "q"}, {"role": "system", "content": "late"}, {"role": "tool", "content": "t"}, {"role": "function", "content": "f"}]})",
        R"({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "weight": 0}]})",
        R"({"messages": [{"role": "us\u0065r", "content": "q"}, {"role": "assistant", "content": "a", "weight": -0}]})",
        R"({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "weight": 1e0}]})",
    };
    for (const char* t : accepted)
        EXPECT_TRUE(agree(fp, t)) << "the fast path should take: " << t;
}

TEST(ChatFastPath, HandsEverythingElseToTheGeneralPath) {
    ChatFastPath fp;
    const char* refused[] = {
        "",
        "   ",
        "[]",
        "1",
        R"("messages")",
        R"({})",
        R"({"messages": []})",
        R"({"messages": {}})",
        R"({"messages": [1]})",
        R"({"messages": [{"role": "user"}]})",
        R"({"messages": [{"content": "x"}]})",
        R"({"messages": [{"role": "robot", "content": "x"}]})",
        R"({"messages": [{"role": 1, "content": "x"}]})",
        R"({"messages": [{"role": "user", "content": null}]})",
        R"({"messages": [{"role": "user", "content": ["x"]}]})",
        R"({"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]})",
        R"({"messages": [{"role": "user", "content": "x", "weight": 1}]})",
        R"({"messages": [{"role": "assistant", "content": "x", "weight": 2}]})",
        R"({"messages": [{"role": "assistant", "content": "x", "weight": "1"}]})",
        R"({"messages": [{"role": "assistant", "content": "x", "weight": 01}]})",
        R"({"messages": [{"role": "assistant", "content": "x", "weight": 1e400}]})",
        R"({"messages": [{"role": "assistant", "content": "x", "name": null}]})",
        R"({"messages": [{"role": "assistant", "content": "x", "extra": 1}]})",
        R"({"messages": [{"role": "assistant", "content": "x", "tool_calls": []}]})",
        R"({"messages": [{"role": "tool", "content": "x", "tool_call_id": "c1"}]})",
        R"({"messages": [{"role": "user", "role": "user", "content": "x"}]})",
        R"({"messages": [{"role": "user", "content": "x"}], "messages": []})",
        R"({"messages": [{"role": "user", "content": "x"}], "tools": []})",
        R"({"messages": [{"role": "user", "content": "x"}], "id": 3})",
        R"({"m\u0065ssages": [{"role": "user", "content": "x"}]})",
        R"({"messages": [{"role": "user", "content": "x"}]} x)",
        R"({"messages": [{"role": "user", "content": "x"}]}})",
        R"({"messages": [{"role": "user", "content": "x"}])",
        R"({"messages": [{"role": "user", "content": "x"},]})",
        R"({"messages": [{"role": "user", "content": "x",}]})",
        R"({"messages": [{"role": "user" "content": "x"}]})",
        R"({"messages": [{"role": "user", "content": "x"} {"role": "user", "content": "y"}]})",
        R"({"messages" [{"role": "user", "content": "x"}]})",
        R"({"messages": [{"role": "user", "content": "\x"}]})",
        R"({"messages": [{"role": "user", "content": "\u12"}]})",
        R"({"messages": [{"role": "user", "content": "\ud800"}]})",
        R"({"messages": [{"role": "user", "content": "\udc00\ud800"}]})",
        R"({"messages": [{"role": "user", "content": "\ud800\u0041"}]})",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"raw\ttab\"}]}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"bad \xff utf8\"}]}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"cut \xe4\xb8\"}]}",
        R"({"messages": [{"role": "user", "content": "unclosed}]})",
        // Found by fuzz_chat_fast_path: a stray ':' after a value, or structure after it.
        R"({"messages": [{"role": "system", "content": "x"}, {"role": "assistant", "content": "a": "b"}]})",
        R"({"messages": [{"role": "user", "content": "a" "b"}]})",
        R"({"messages": [{"role": "user": "content", "content": "a"}]})",
        R"({"messages": [{"role": "user", "content": "a", }]})",
        R"({"messages": [{"role": "user", "content": "a"]}]})",
        R"({"messages": [{"role": "user", "content": "a", "weight": 1: 2}]})",
    };
    for (const char* t : refused) {
        EXPECT_FALSE(fast(fp, t)) << "the fast path should refuse: " << t;
        // The parser is reused after a refusal.
        EXPECT_TRUE(agree(fp, R"({"messages": [{"role": "user", "content": "again"}]})"));
    }
}

TEST(ChatFastPath, AgreesWithTheGeneralPathOnRandomAndMutatedRecords) {
    ChatFastPath fp;
    std::mt19937 rng(7);
    auto pick = [&](std::initializer_list<const char*> xs) {
        return std::string(*(xs.begin() + rng() % xs.size()));
    };
    auto text = [&] {
        std::string s;
        // Long strings too: the escape scan goes sixteen bytes a step.
        int n = static_cast<int>(rng() % 4 ? rng() % 6 : rng() % 40);
        for (int i = 0; i < n; ++i)
            s += pick({"a",       " ",    "é",       "训",      "\\n",     "\\t",
                       "\\\"",    "\\\\", "\\/",     "\\u00e9", "\\u0007", "\\ud83d\\ude00",
                       "\\u0020", "\\r",  "\\b",     "\\f",     "\\u001f", "😀",
                       "\\u12",   "\\q",  "\\ud800", "\x7f"});
        return s;
    };
    auto space = [&] { return rng() % 4 ? std::string() : pick({" ", "\t", "  ", "\r"}); };
    int accepted = 0, general_accepted = 0;
    for (int iter = 0; iter < 20000; ++iter) {
        // Each vector variant of the escape scan in turn (those the CPU has).
        use_escape_scan(static_cast<EscapeScan>(iter % 3));
        std::string r = space() + "{" + space() + "\"messages\"" + space() + ":" + space() + "[";
        int n = 1 + static_cast<int>(rng() % 4);
        for (int i = 0; i < n; ++i) {
            if (i) r += "," + space();
            std::vector<std::string> fields = {
                "\"role\":" + space() + "\"" +
                    pick({"user", "assistant", "system", "tool", "function", "robot"}) + "\"",
                "\"content\":" + space() + "\"" + text() + "\""};
            if (rng() % 5 == 0) fields.push_back("\"name\":\"" + text() + "\"");
            if (rng() % 5 == 0)
                fields.push_back("\"weight\":" + space() +
                                 pick({"0", "1", "1.0", "0e5", "-0", "2", "0.5", "true"}));
            if (rng() % 20 == 0) fields.push_back("\"extra\":1");
            if (rng() % 20 == 0) fields.push_back(fields[0]);
            std::shuffle(fields.begin(), fields.end(), rng);
            r += "{";
            for (size_t k = 0; k < fields.size(); ++k)
                r += (k ? "," + space() : space()) + fields[k];
            r += space() + "}";
        }
        r += "]" + space() + "}" + space();
        // Sometimes break it: drop, duplicate or replace one byte.
        if (rng() % 3 == 0 && !r.empty()) {
            size_t at = rng() % r.size();
            switch (rng() % 3) {
                case 0:
                    r.erase(at, 1);
                    break;
                case 1:
                    r.insert(at, 1, r[at]);
                    break;
                default:
                    r[at] = "{}[]\",:\\ x0\x01\xff"[rng() % 14];
            }
        }
        accepted += agree(fp, r);
        general_accepted += general(r).has_value();
    }
    use_escape_scan(EscapeScan::avx512);
    // The fast path must take nearly every record the general path takes (it refuses only
    // the extra and repeated keys here).
    std::fprintf(stderr, "fast path %d, general path %d records\n", accepted, general_accepted);
    EXPECT_GT(accepted, 1000);
    EXPECT_GT(accepted, general_accepted * 8 / 10);
}

namespace {

// append_canonical_string against hand-written expectations, with the escape scan in use.
void canonical_strings_check() {
    std::string out;
    EXPECT_TRUE(
        append_canonical_string(R"(a\/b\u00E9\uD83D\uDE00\u0008\u000a\u001b\u0022\u005c)", out));
    EXPECT_EQ(out, "a/bé😀\\b\\n\\u001b\\\"\\\\");
    out.clear();
    EXPECT_FALSE(append_canonical_string(R"(\)", out));
    EXPECT_FALSE(append_canonical_string(R"(\u00)", out));
    EXPECT_FALSE(append_canonical_string(R"(\uDE00)", out));
    EXPECT_FALSE(append_canonical_string(R"(\uD83Dx)", out));
    EXPECT_FALSE(append_canonical_string(R"(\a)", out));
    // Escapes on both sides of a 16-, 32- and 64-byte boundary (the SSE2, AVX2 and AVX-512
    // scans), and raw text ending at every offset of a block.
    for (size_t pad = 0; pad < 140; ++pad) {
        std::string raw = std::string(pad, 'x') + R"(\\\"\/\n\u00e9\\)" + std::string(pad, 'y');
        out.clear();
        ASSERT_TRUE(append_canonical_string(raw, out));
        EXPECT_EQ(out, std::string(pad, 'x') + R"(\\\"/\né\\)" + std::string(pad, 'y'));
        out.clear();
        EXPECT_FALSE(append_canonical_string(std::string(pad, 'x') + R"(\\\)", out));
        // A literal backslash followed by text that looks like an escape.
        raw = std::string(pad, 'x') + R"(\\u0041\\/\\\\q)" + std::string(pad, 'y');
        out.clear();
        ASSERT_TRUE(append_canonical_string(raw, out));
        EXPECT_EQ(out, raw);
    }
}

}  // namespace

TEST(ChatFastPath, CanonicalStringsAreWhatTheGeneralPathWrites) {
    for (EscapeScan scan : {EscapeScan::sse2, EscapeScan::avx2, EscapeScan::avx512}) {
        SCOPED_TRACE(static_cast<int>(use_escape_scan(scan)));
        canonical_strings_check();
    }
}
