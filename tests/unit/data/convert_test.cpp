// Shape detection and conversion to canonical records: one fixture per shape and per error.
#include <gtest/gtest.h>

#include "data/convert.h"
#include "data/shape_detect.h"
#include "data_test_util.h"

using namespace llmtune;
using namespace llmtune::data;
using namespace llmtune::data::test_util;

namespace {

ordered_json msg(const char* role, const char* content) {
    return {{"role", role}, {"content", content}};
}

// Converts and expects success.
CanonicalRecord ok(Shape s, const json& r) {
    Conversion c = convert_record(s, r);
    EXPECT_TRUE(c.errors.empty()) << (c.errors.empty()
                                          ? ""
                                          : c.errors[0].path + ": " + c.errors[0].message);
    return c.record.value_or(CanonicalRecord{});
}

// Converts and expects one error at `path` with `code`.
void bad(Shape s, const json& r, const std::string& path, const std::string& code) {
    Conversion c = convert_record(s, r);
    EXPECT_FALSE(c.record) << r.dump();
    ASSERT_FALSE(c.errors.empty()) << r.dump();
    EXPECT_EQ(c.errors[0].path, path) << c.errors[0].message;
    EXPECT_EQ(c.errors[0].code, code) << c.errors[0].message;
}

bool has_warning(const Conversion& c, const std::string& code) {
    for (const auto& w : c.warnings)
        if (w.code == code) return true;
    return false;
}

}  // namespace

TEST(DataShapes, EachShapeIsRecognisedByItsKeys) {
    EXPECT_EQ(matching_shapes(json::parse(R"({"messages": []})")),
              std::vector<Shape>{Shape::openai_chat});
    EXPECT_EQ(matching_shapes(json::parse(R"({"prompt": "", "completion": ""})")),
              std::vector<Shape>{Shape::prompt_completion});
    EXPECT_EQ(matching_shapes(json::parse(R"({"instruction": "", "input": "", "output": ""})")),
              std::vector<Shape>{Shape::alpaca});
    EXPECT_EQ(matching_shapes(json::parse(R"({"conversations": []})")),
              std::vector<Shape>{Shape::sharegpt});
    EXPECT_EQ(matching_shapes(json::parse(R"({"text": ""})")), std::vector<Shape>{Shape::text});
    EXPECT_EQ(matching_shapes(json::parse(R"({"prompt": "", "chosen": "", "rejected": ""})")),
              std::vector<Shape>{Shape::preference});
    EXPECT_EQ(matching_shapes(json::parse(
                  R"({"input": {}, "preferred_output": [], "non_preferred_output": []})")),
              std::vector<Shape>{Shape::openai_preference});
    EXPECT_TRUE(matching_shapes(json::parse(R"({"foo": 1})")).empty());
}

TEST(DataShapes, AmbiguousRecordAndMixedFileAreErrorsNamingBothShapes) {
    ShapeDetector d("f.jsonl");
    EXPECT_EQ(expect_error([&] { d.check(json::parse(R"({"messages": [], "text": "x"})"), 4); },
                           {"line 4", "OpenAI chat", "text"}),
              "");
    ShapeDetector m("f.jsonl");
    EXPECT_TRUE(m.check(json::parse(R"({"text": "a"})"), 1));
    EXPECT_TRUE(m.check(json::parse(R"({"text": "b"})"), 2));
    EXPECT_FALSE(m.check(json::parse(R"({"other": 1})"), 3));
    EXPECT_EQ(
        expect_error([&] { m.check(json::parse(R"({"instruction": "i", "output": "o"})"), 9); },
                     {"mixes shapes", "text", "Alpaca", "line 9", "line 1"}),
        "");
    EXPECT_EQ(parse_shape("chat"), Shape::openai_chat);
    EXPECT_EQ(parse_shape("alpaca"), Shape::alpaca);
    EXPECT_EQ(expect_error([&] { parse_shape("nope"); }, {"nope"}), "");
}

TEST(DataConvert, OpenAiChatKeepsToolsWeightsAndNames) {
    json r = json::parse(R"({
      "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "what is "}, {"type": "text", "text": "2+2?"}], "name": "ann"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "calc", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "4"},
        {"role": "assistant", "content": "4", "weight": 0},
        {"role": "user", "content": "sure?"},
        {"role": "assistant", "content": "yes", "weight": 1}
      ],
      "tools": [{"type": "function", "function": {"name": "calc"}}]
    })");
    auto rec = ok(Shape::openai_chat, r);
    EXPECT_EQ(rec.kind, RecordKind::chat);
    const auto& m = rec.value["messages"];
    ASSERT_EQ(m.size(), 7u);
    EXPECT_EQ(m[1]["content"], "what is 2+2?");
    EXPECT_EQ(m[1]["name"], "ann");
    EXPECT_TRUE(m[2]["content"].is_null());
    EXPECT_EQ(json::parse(m[2]["tool_calls"].dump()), r["messages"][2]["tool_calls"]);
    EXPECT_EQ(m[3]["tool_call_id"], "c1");
    EXPECT_EQ(m[4]["weight"], 0);
    EXPECT_EQ(m[6]["weight"], 1);
    EXPECT_EQ(json::parse(rec.value["tools"].dump()), r["tools"]);
    Conversion c = convert_record(Shape::openai_chat, r);
    EXPECT_TRUE(c.warnings.empty()) << c.warnings[0].message;
}

TEST(DataConvert, OpenAiChatFieldErrorsCarryJsonPaths) {
    bad(Shape::openai_chat, json::parse(R"({"messages": "hi"})"), "$.messages", "invalid_field");
    bad(Shape::openai_chat, json::parse(R"({"messages": []})"), "$.messages", "invalid_field");
    bad(Shape::openai_chat,
        json::parse(
            R"({"messages": [{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}]})"),
        "$.messages[1].role", "invalid_field");
    bad(Shape::openai_chat, json::parse(R"({"messages": [{"role": "user", "content": 5}]})"),
        "$.messages[0].content", "invalid_field");
    bad(Shape::openai_chat, json::parse(R"({"messages": [{"role": "user"}]})"),
        "$.messages[0].content", "missing_field");
    bad(Shape::openai_chat,
        json::parse(R"({"messages": [{"role": "assistant", "content": "x", "weight": 0.5}]})"),
        "$.messages[0].weight", "invalid_field");
    bad(Shape::openai_chat,
        json::parse(R"({"messages": [{"role": "user", "content": "x", "weight": 1}]})"),
        "$.messages[0].weight", "invalid_field");
    bad(Shape::openai_chat, json::parse(R"({"messages": [7]})"), "$.messages[0]", "invalid_field");
    bad(Shape::openai_chat,
        json::parse(
            R"({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]})"),
        "$.messages[0].content[0]", "invalid_field");
}

TEST(DataConvert, PromptCompletionAlpacaShareGptText) {
    auto pc = ok(Shape::prompt_completion,
                 json::parse(R"({"prompt": "p", "completion": "c", "system": "s"})"));
    EXPECT_EQ(pc.value["messages"],
              ordered_json::array({msg("system", "s"), msg("user", "p"), msg("assistant", "c")}));

    auto al = ok(Shape::alpaca,
                 json::parse(R"({"instruction": "Translate", "input": "chat", "output": "cat"})"));
    EXPECT_EQ(al.value["messages"],
              ordered_json::array({msg("user", "Translate\n\nchat"), msg("assistant", "cat")}));
    auto al2 =
        ok(Shape::alpaca, json::parse(R"({"instruction": "Say hi", "input": "", "output": "hi"})"));
    EXPECT_EQ(al2.value["messages"][0]["content"], "Say hi");

    auto sg =
        ok(Shape::sharegpt, json::parse(R"({"conversations": [{"from": "system", "value": "s"},
        {"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]})"));
    EXPECT_EQ(sg.value["messages"],
              ordered_json::array({msg("system", "s"), msg("user", "q"), msg("assistant", "a")}));
    bad(Shape::sharegpt, json::parse(R"({"conversations": [{"from": "robot", "value": "q"}]})"),
        "$.conversations[0].from", "invalid_field");
    bad(Shape::sharegpt, json::parse(R"({"conversations": [{"from": "human"}]})"),
        "$.conversations[0].value", "missing_field");

    auto tx = ok(Shape::text, json::parse(R"({"text": "hello"})"));
    EXPECT_EQ(tx.kind, RecordKind::text);
    EXPECT_EQ(tx.value, ordered_json({{"text", "hello"}}));
    bad(Shape::text, json::parse(R"({"text": "  \n"})"), "$.text", "empty_text");
    bad(Shape::text, json::parse(R"({"text": ["a"]})"), "$.text", "invalid_field");
    bad(Shape::prompt_completion, json::parse(R"({"prompt": "p", "completion": 3})"),
        "$.completion", "invalid_field");
    // --format forces a shape the record lacks: its keys are missing, not a crash.
    bad(Shape::alpaca, json::parse(R"({"text": "x"})"), "$.instruction", "missing_field");
    bad(Shape::openai_preference, json::parse(R"({"text": "x"})"), "$.input", "invalid_field");
}

TEST(DataConvert, PreferenceShapes) {
    auto p = ok(Shape::preference,
                json::parse(R"({"prompt": "q", "chosen": "good", "rejected": "bad"})"));
    EXPECT_EQ(p.kind, RecordKind::preference);
    EXPECT_EQ(p.value["prompt"], ordered_json::array({msg("user", "q")}));
    EXPECT_EQ(p.value["chosen"], ordered_json::array({msg("assistant", "good")}));
    EXPECT_EQ(p.value["rejected"], ordered_json::array({msg("assistant", "bad")}));
    auto o = ok(Shape::openai_preference, json::parse(R"({
        "input": {"messages": [{"role": "user", "content": "q"}], "tools": []},
        "preferred_output": [{"role": "assistant", "content": "good"}],
        "non_preferred_output": [{"role": "assistant", "content": "bad"}]})"));
    EXPECT_EQ(o.value["prompt"], p.value["prompt"]);
    EXPECT_EQ(o.value["chosen"], p.value["chosen"]);
    EXPECT_EQ(o.value["rejected"], p.value["rejected"]);
    Conversion same = convert_record(
        Shape::preference, json::parse(R"({"prompt": "q", "chosen": "a", "rejected": "a"})"));
    EXPECT_TRUE(has_warning(same, "same_chosen_rejected"));
}

TEST(DataConvert, ConversationWarnings) {
    auto conv = [](const char* text) {
        return convert_record(Shape::openai_chat, json::parse(text));
    };
    EXPECT_TRUE(
        has_warning(conv(R"({"messages": [{"role": "user", "content": "a"}]})"), "no_assistant"));
    EXPECT_TRUE(has_warning(
        conv(
            R"({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": " \n"}]})"),
        "empty_assistant"));
    EXPECT_TRUE(has_warning(
        conv(R"({"messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "s"},
                                  {"role": "assistant", "content": "b"}]})"),
        "system_not_first"));
    EXPECT_TRUE(has_warning(
        conv(R"({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"},
                                  {"role": "assistant", "content": "c"}]})"),
        "role_order"));
    EXPECT_TRUE(has_warning(conv(R"({"messages": [{"role": "assistant", "content": "c"}]})"),
                            "role_order"));
    EXPECT_TRUE(has_warning(
        conv(
            R"({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "weight": 0}]})"),
        "no_trainable"));
    EXPECT_TRUE(has_warning(
        conv(
            R"({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "id": 7})"),
        "dropped_field"));
    // A clean conversation has no warnings at all.
    EXPECT_TRUE(
        conv(R"({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "a"},
                        {"role": "assistant", "content": "b"}]})")
            .warnings.empty());
}

TEST(DataConvert, CanonicalRecordsConvertToThemselves) {
    // Round trip: a canonical record read back as its own shape is unchanged.
    for (
        const char* text :
        {R"({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "weight": 1}]})",
         R"({"text": "t"})",
         R"({"prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": "g"}], "rejected": [{"role": "assistant", "content": "b"}]})"}) {
        json in = json::parse(text);
        auto shapes = matching_shapes(in);
        ASSERT_EQ(shapes.size(), 1u) << text;
        auto rec = ok(shapes[0], in);
        EXPECT_EQ(json::parse(rec.value.dump()), in) << text;
        EXPECT_EQ(canonical_kind(in), rec.kind);
    }
}

TEST(DataConvert, ShareGptSystemAndTurnPaths) {
    auto sg = ok(Shape::sharegpt, json::parse(R"({"system": "s", "conversations": [
        {"from": "human", "value": "q"}, {"from": "gpt", "value": "a", "weight": 0}]})"));
    EXPECT_EQ(sg.value["messages"][0], msg("system", "s"));
    EXPECT_EQ(sg.value["messages"][2]["weight"], 0);
    // The path names the turn as it is in the file, whatever was prepended.
    bad(Shape::sharegpt, json::parse(R"({"system": "s", "conversations": [
        {"from": "human", "value": "q"}, {"from": "gpt", "value": "a", "weight": 2}]})"),
        "$.conversations[1].weight", "invalid_field");
}

TEST(DataConvert, CanonicalLinesAreWhatNlohmannDumpWrites) {
    ordered_json v = ordered_json::parse(R"({"messages": [{"role": "user",
        "content": "quote \" backslash \\ nl \n cr \r tab \t bs \b ff \f ctl \u0001 \u001f del \u007f é 训 😀"},
        {"role": "assistant", "content": "", "weight": 1, "tool_calls": [{"a": [1, 2.5, -3, true, false, null, {}, []]}]}],
        "tools": [{"x": 1e300}]})");
    EXPECT_EQ(to_jsonl_line(CanonicalRecord{RecordKind::chat, v}), v.dump());
    ordered_json t = {{"text", std::string("a\0b", 3)}};
    EXPECT_EQ(to_jsonl_line(CanonicalRecord{RecordKind::text, t}), t.dump());
}
