// ExampleEncoder against an independent reference (tests/reference/assistant_mask.mjs:
// @huggingface/jinja + @lenml/tokenizers, token offsets from the token strings) for the Qwen3,
// Llama 3 and Llama 2 chat formats; then text records, truncation and the errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>

#include "common/error.h"
#include "common/json_file.h"
#include "data/chat_encoding.h"
#include "data/token_counter.h"
#include "support/test_support.h"
#include "tokenizer/default_chat_templates.h"
#include "tokenizer/tokenizer.h"

namespace llmtune::data {
namespace {

namespace fs = std::filesystem;

std::string q(const std::string& s) {
    return "'" + s + "'";
}

// Runs the reference on `cases` (see the script's header) for the tokenizer in `dir`.
json reference(const std::string& dir, const json& cases, test::TempDir& tmp) {
    json req = {{"tokenizer", dir}, {"cases", cases}};
    const std::string file = tmp.file("request.json");
    test::write_file(file, req.dump());
    const std::string script = std::string(LLMTUNE_SOURCE_DIR) + "/tests/reference/assistant_mask.mjs";
    auto r = test::run_command("cd " + q(LLMTUNE_SOURCE_DIR) + " && node " + q(script) + " " +
                               q(file));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return parse_json_text(r.out, "assistant_mask.mjs output");
}

// A tokenizer directory: the npm tokenizer with `chat_template` set when given.
std::string tokenizer_dir(const std::string& name, test::TempDir& tmp, bool llama2_template) {
    std::string src = test::npm_tokenizer_dir(name);
    if (!llama2_template) return src;
    std::string dir = tmp.file(name);
    fs::create_directories(dir);
    fs::copy_file(src + "/tokenizer.json", dir + "/tokenizer.json");
    json cfg = read_json_file(src + "/tokenizer_config.json");
    cfg["chat_template"] =
        tokenizer::default_chat_template(read_json_file(src + "/tokenizer.json"), "<s>");
    test::write_file(dir + "/tokenizer_config.json", cfg.dump());
    return dir;
}

// Loading a tokenizer costs seconds on a busy machine: one encoder per directory and options.
const ExampleEncoder& encoder(const std::string& dir, const EncodeOptions& o) {
    static std::map<std::string, std::unique_ptr<ExampleEncoder>> cache;
    std::string key = dir + "|" + std::to_string(o.max_seq_len) + "|" +
                      std::to_string(o.train_on_inputs) + std::to_string(o.honour_weights);
    auto& slot = cache[key];
    if (!slot) slot = std::make_unique<ExampleEncoder>(dir, o);
    return *slot;
}

CanonicalRecord chat(const json& messages) {
    CanonicalRecord r;
    r.kind = RecordKind::chat;
    r.value = ordered_json{{"messages", messages}};
    return r;
}

// The conversations every family is checked on.
json parity_cases(const std::string& end_of_turn) {
    json sys_user_asst = json::array({{{"role", "system"}, {"content", "You are terse."}},
                                      {{"role", "user"}, {"content", "What is 2+2?"}},
                                      {{"role", "assistant"}, {"content", "It is 4."}}});
    json multi = json::array({{{"role", "user"}, {"content", "Hi there"}},
                              {{"role", "assistant"}, {"content", "Hello! h\xC3\xA9llo \xE6\x97\xA5\xE6\x9C\xAC"}},
                              {{"role", "user"}, {"content", "Tell me more."}},
                              {{"role", "assistant"}, {"content", "Sure: one, two, three."}}});
    json weighted = multi;
    weighted[1]["weight"] = 0;
    json cases = json::array();
    for (const json& m : {sys_user_asst, multi, weighted}) {
        for (bool on_inputs : {false, true})
            cases.push_back({{"messages", m}, {"train_on_inputs", on_inputs},
                             {"end_of_turn", end_of_turn}});
    }
    cases.push_back({{"messages", weighted}, {"honour_weights", false}, {"end_of_turn", end_of_turn}});
    return cases;
}

void expect_parity(const std::string& dir, const json& cases, test::TempDir& tmp) {
    json ref = reference(dir, cases, tmp);
    ASSERT_EQ(ref.size(), cases.size());
    for (size_t c = 0; c < cases.size(); ++c) {
        SCOPED_TRACE("case " + std::to_string(c) + ": " + cases[c].dump());
        ASSERT_TRUE(ref[c]["ok"].get<bool>()) << ref[c].dump();
        EncodeOptions o;
        o.max_seq_len = 100000;
        o.train_on_inputs = cases[c].value("train_on_inputs", false);
        o.honour_weights = cases[c].value("honour_weights", true);
        const ExampleEncoder& enc = encoder(dir, o);
        auto rec = chat(cases[c]["messages"]);
        if (cases[c].contains("tools")) rec.value["tools"] = cases[c]["tools"];
        auto got = enc.tokens(rec, "case " + std::to_string(c));
        auto want_ids = ref[c]["ids"].get<std::vector<int32_t>>();
        auto want_trained = ref[c]["trained"].get<std::vector<uint8_t>>();
        ASSERT_EQ(got.ids, want_ids) << ref[c]["text"].get<std::string>();
        EXPECT_EQ(got.trained, want_trained) << ref[c]["text"].get<std::string>();
        size_t trained = 0;
        for (auto t : want_trained)
            trained += t;
        EXPECT_GT(trained, 0u);
        // The example is the shifted form of the same labels.
        TrainingExample ex = enc.encode(rec);
        ASSERT_EQ(ex.input_ids, want_ids);
        EXPECT_EQ(ex.truncated_tokens, 0);
        for (size_t p = 0; p < want_ids.size(); ++p) {
            int32_t want = p + 1 < want_ids.size() && want_trained[p + 1] ? want_ids[p + 1]
                                                                            : kIgnoreTarget;
            EXPECT_EQ(ex.targets[p], want) << "position " << p;
        }
    }
}

TEST(ChatEncoding, MatchesReferenceQwen3) {
    test::TempDir tmp;
    const std::string dir = tokenizer_dir("qwen3", tmp, false);
    json cases = parity_cases("<|im_end|>\n");
    // An earlier turn starting with newlines: "\n\n\n" is one token spanning the generation
    // prompt's "\n" and the answer, so it is trained.
    cases.push_back({{"messages", json::array({{{"role", "user"}, {"content", "Hi"}},
                                               {{"role", "assistant"}, {"content", "\n\nFirst."}},
                                               {{"role", "user"}, {"content", "Again"}},
                                               {{"role", "assistant"}, {"content", "Second."}}})},
                     {"end_of_turn", "<|im_end|>\n"}});
    // Reasoning written in the last turn's content: trained, <think> block included.
    cases.push_back({{"messages", json::array({{{"role", "user"}, {"content", "Why?"}},
                                               {{"role", "assistant"},
                                                {"content", "<think>\nBecause.\n</think>\n\nSo."}}})},
                     {"end_of_turn", "<|im_end|>\n"}});
    // Tools, a tool call with empty content in an earlier turn (its <think> block dropped),
    // the tool's answer, and the final answer.
    json tools = json::array({{{"type", "function"},
                               {"function",
                                {{"name", "get_weather"},
                                 {"description", "Current weather"},
                                 {"parameters",
                                  {{"type", "object"},
                                   {"properties", {{"city", {{"type", "string"}}}}}}}}}}});
    json call = {{"type", "function"},
                 {"function", {{"name", "get_weather"}, {"arguments", {{"city", "Paris"}}}}}};
    cases.push_back(
        {{"tools", tools},
         {"messages", json::array({{{"role", "user"}, {"content", "Weather in Paris?"}},
                                   {{"role", "assistant"}, {"content", ""},
                                    {"tool_calls", json::array({call})}},
                                   {{"role", "tool"}, {"content", "{\"temp\": 21}"}},
                                   {{"role", "assistant"}, {"content", "It is 21 degrees."}}})},
         {"end_of_turn", "<|im_end|>\n"}});
    expect_parity(dir, cases, tmp);
}

// Llama 3.1's tokenizer carries the Llama 3 template that honours add_generation_prompt (the
// "llama3" package has the first release's, which always appends the assistant header).
TEST(ChatEncoding, MatchesReferenceLlama3) {
    test::TempDir tmp;
    expect_parity(tokenizer_dir("llama3_1", tmp, false), parity_cases("<|eot_id|>"), tmp);
}

TEST(ChatEncoding, MatchesReferenceLlama2) {
    test::TempDir tmp;
    expect_parity(tokenizer_dir("llama2", tmp, true), parity_cases(" </s>"), tmp);
}

TEST(ChatEncoding, EndOfTurnTokenIsTrained) {
    test::TempDir tmp;
    for (auto [name, eot] : {std::pair<std::string, std::string>{"qwen3", "<|im_end|>"},
                             {"llama3_1", "<|eot_id|>"},
                             {"llama2", "</s>"}}) {
        std::string dir = tokenizer_dir(name, tmp, name == "llama2");
        const ExampleEncoder& enc = encoder(dir, EncodeOptions{});
        auto tok = tokenizer::Tokenizer::load(dir);
        const int32_t eot_id = static_cast<int32_t>(*tok->token_to_id(eot));
        auto ex = enc.encode(chat(json::array({{{"role", "user"}, {"content", "Hi"}},
                                               {{"role", "assistant"}, {"content", "Yo"}}})));
        int trained_eot = 0;
        for (int32_t t : ex.targets)
            trained_eot += t == eot_id;
        EXPECT_EQ(trained_eot, 1) << name;
    }
}

TEST(ChatEncoding, TextRecordsTrainOnEveryTokenAndEndWithEos) {
    test::TempDir tmp;
    for (const std::string name : {"qwen3", "llama3", "llama2"}) {
        std::string dir = test::npm_tokenizer_dir(name);
        auto tok = tokenizer::Tokenizer::load(dir);
        const ExampleEncoder& enc = encoder(dir, EncodeOptions{});
        CanonicalRecord r;
        r.kind = RecordKind::text;
        r.value = ordered_json{{"text", "Plain text for continued pretraining."}};
        auto ex = enc.encode(r);
        auto want = tok->encode("Plain text for continued pretraining.", true);
        ASSERT_TRUE(tok->eos_id()) << name;
        want.push_back(*tok->eos_id());
        ASSERT_EQ(ex.input_ids, std::vector<int32_t>(want.begin(), want.end())) << name;
        EXPECT_EQ(ex.target_count(), ex.size() - 1) << name;
        EXPECT_EQ(ex.targets.back(), kIgnoreTarget);
        // The dataset's token statistics count the same tokens training sees.
        auto counted = TokenCounter(dir).count(r);
        EXPECT_EQ(counted.tokens, ex.size()) << name;
        EXPECT_EQ(counted.trainable, ex.size()) << name;
        if (name == "llama2") {
            EXPECT_EQ(ex.input_ids.front(), *tok->bos_id());
        }
    }
}

TEST(ChatEncoding, TruncationKeepsTheFirstTokensAndCountsTheRest) {
    test::TempDir tmp;
    const std::string dir = test::npm_tokenizer_dir("qwen3");
    auto rec = chat(json::array({{{"role", "user"}, {"content", "Please answer this question."}},
                                 {{"role", "assistant"}, {"content", "Here is the answer."}}}));
    EncodeOptions full_opts;
    full_opts.max_seq_len = 100000;
    auto full = encoder(dir, full_opts).tokens(rec);
    const int64_t n = static_cast<int64_t>(full.ids.size());
    size_t first_trained = 0;
    while (!full.trained[first_trained])
        ++first_trained;
    for (int64_t keep : {n - 3, static_cast<int64_t>(first_trained) + 2,
                         static_cast<int64_t>(first_trained)}) {
        EncodeOptions o;
        o.max_seq_len = keep;
        auto ex = encoder(dir, o).encode(rec);
        ASSERT_EQ(ex.size(), keep);
        EXPECT_EQ(ex.truncated_tokens, n - keep);
        EXPECT_TRUE(std::equal(ex.input_ids.begin(), ex.input_ids.end(), full.ids.begin()));
        int64_t want_targets = 0;
        for (int64_t p = 1; p < keep; ++p)
            want_targets += full.trained[static_cast<size_t>(p)];
        EXPECT_EQ(ex.target_count(), want_targets);
        EXPECT_EQ(ex.targets.back(), kIgnoreTarget);
    }
    // Cut before the answer: no target left, reported as an empty example for the caller.
    EncodeOptions o;
    o.max_seq_len = static_cast<int64_t>(first_trained);
    EXPECT_EQ(encoder(dir, o).encode(rec).target_count(), 0);
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
        return e.message();
    }
    ADD_FAILURE() << "expected an error";
    return "";
}

TEST(ChatEncoding, Errors) {
    test::TempDir tmp;
    const std::string qwen = test::npm_tokenizer_dir("qwen3");
    const ExampleEncoder& enc = encoder(qwen, EncodeOptions{});
    CanonicalRecord pref;
    pref.kind = RecordKind::preference;
    pref.value = ordered_json{{"prompt", json::array()}, {"chosen", json::array()},
                              {"rejected", json::array()}};
    EXPECT_NE(error_of([&] { enc.encode(pref, "train.jsonl record 3"); })
                  .find("train.jsonl record 3: preference records"),
              std::string::npos);
    auto bad_weight = chat(json::array({{{"role", "user"}, {"content", "a"}},
                                        {{"role", "assistant"}, {"content", "b"}, {"weight", 2}}}));
    EXPECT_NE(error_of([&] { enc.encode(bad_weight); }).find("weight must be 0 or 1"),
              std::string::npos);
    // A template whose earlier output changes as the conversation grows (it starts with the
    // message count): the spans cannot be found, and the error names record and template.
    std::string dir = tmp.file("counting");
    fs::create_directories(dir);
    fs::copy_file(qwen + "/tokenizer.json", dir + "/tokenizer.json");
    test::write_file(dir + "/tokenizer_config.json",
                     json{{"eos_token", "<|im_end|>"},
                          {"chat_template",
                           "{{ messages|length }}{% for m in messages %}{{ m.role }}: "
                           "{{ m.content }}\n{% endfor %}"}}
                         .dump());
    ExampleEncoder counting(dir, EncodeOptions{});
    auto rec = chat(json::array({{{"role", "user"}, {"content", "a"}},
                                 {{"role", "assistant"}, {"content", "b"}}}));
    std::string msg = error_of([&] { counting.encode(rec, "record 9"); });
    EXPECT_NE(msg.find("record 9: assistant message 1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("chat template of " + dir), std::string::npos) << msg;
    // train_on_inputs needs no spans, so the same record encodes.
    EncodeOptions all;
    all.train_on_inputs = true;
    EXPECT_GT(ExampleEncoder(dir, all).encode(rec).target_count(), 0);
    // The first Llama 3 Instruct template writes the assistant header even without
    // add_generation_prompt: training it as part of the last answer would be wrong.
    const std::string llama3 = test::npm_tokenizer_dir("llama3");
    msg = error_of([&] { encoder(llama3, EncodeOptions{}).encode(rec, "record 2"); });
    EXPECT_NE(msg.find("record 2: assistant message 1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("generation prompt"), std::string::npos) << msg;
    // No chat template at all: chat records are refused, text records still work.
    std::string bare = tmp.file("bare");
    fs::create_directories(bare);
    fs::copy_file(qwen + "/tokenizer.json", bare + "/tokenizer.json");
    ExampleEncoder no_template(bare, EncodeOptions{});
    EXPECT_NE(error_of([&] { no_template.encode(rec); }).find("has no chat template"),
              std::string::npos);
    EXPECT_THROW(ExampleEncoder(qwen, EncodeOptions{0, false, true}), Error);
}

}  // namespace
}  // namespace llmtune::data
