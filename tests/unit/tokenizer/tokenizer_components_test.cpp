// Unit tests of the tokenizer components on their own: split behaviours, pre-tokenizers, and
// the errors for malformed or unsupported tokenizer files. The expected splits are the
// documented behaviour of Hugging Face tokenizers (its docstrings and tests), not output of
// this code.
#include <gtest/gtest.h>

#include "common/error.h"
#include "support/test_support.h"
#include "tokenizer/json_path.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace llmtune::test {
namespace {

using tokenizer::JsonPath;
using tokenizer::PreToken;
using tokenizer::SplitBehavior;
using tokenizer::Tokenizer;

std::vector<std::string> texts(const std::vector<PreToken>& pieces) {
    std::vector<std::string> out;
    for (const auto& p : pieces)
        out.push_back(p.text);
    return out;
}

std::vector<std::string> pre_tokenize(const json& config, const std::string& text,
                                      bool at_start = true) {
    auto pt = tokenizer::make_pre_tokenizer(JsonPath(config, "test.json", "pre_tokenizer"));
    std::vector<PreToken> pieces{PreToken{text, at_start}};
    pt->pre_tokenize(pieces);
    return texts(pieces);
}

// "the-final--countdown" split on "-", from the documentation of NormalizedString::split
// (empty pieces are dropped by PreTokenizedString).
TEST(SplitBehaviour, MatchesHuggingFaceDocumentation) {
    auto split = [](const char* behavior) {
        json cfg = {{"type", "Split"},
                    {"pattern", {{"String", "-"}}},
                    {"behavior", behavior},
                    {"invert", false}};
        return pre_tokenize(cfg, "the-final--countdown");
    };
    using V = std::vector<std::string>;
    EXPECT_EQ(split("Removed"), (V{"the", "final", "countdown"}));
    EXPECT_EQ(split("Isolated"), (V{"the", "-", "final", "-", "-", "countdown"}));
    EXPECT_EQ(split("MergedWithPrevious"), (V{"the-", "final-", "-", "countdown"}));
    EXPECT_EQ(split("MergedWithNext"), (V{"the", "-final", "-", "-countdown"}));
    EXPECT_EQ(split("Contiguous"), (V{"the", "-", "final", "--", "countdown"}));
}

TEST(SplitBehaviour, InvertKeepsTheMatches) {
    json cfg = {{"type", "Split"},
                {"pattern", {{"Regex", "\\w+|[^\\w\\s]+"}}},
                {"behavior", "Removed"},
                {"invert", true}};
    EXPECT_EQ(pre_tokenize(cfg, "How are you doing?"),
              (std::vector<std::string>{"How", "are", "you", "doing", "?"}));
}

TEST(PreTokenizers, MetaspacePrependSchemes) {
    auto meta = [](const char* scheme, bool split) {
        return json{{"type", "Metaspace"},
                    {"replacement", "\xE2\x96\x81"},
                    {"prepend_scheme", scheme},
                    {"split", split}};
    };
    using V = std::vector<std::string>;
    const std::string m = "\xE2\x96\x81";  // ▁
    EXPECT_EQ(pre_tokenize(meta("always", true), "Hey friend"), (V{m + "Hey", m + "friend"}));
    EXPECT_EQ(pre_tokenize(meta("always", false), "Hey friend"), (V{m + "Hey" + m + "friend"}));
    EXPECT_EQ(pre_tokenize(meta("first", true), "Hey friend", true), (V{m + "Hey", m + "friend"}));
    // "first" prepends only to the piece at the start of the input.
    EXPECT_EQ(pre_tokenize(meta("first", true), "Hey friend", false), (V{"Hey", m + "friend"}));
    EXPECT_EQ(pre_tokenize(meta("never", true), "Hey friend"), (V{"Hey", m + "friend"}));
    // Existing replacement characters are not doubled.
    EXPECT_EQ(pre_tokenize(meta("always", true), " Hey"), (V{m + "Hey"}));
}

TEST(PreTokenizers, DigitsPunctuationWhitespace) {
    using V = std::vector<std::string>;
    json digits = {{"type", "Digits"}, {"individual_digits", false}};
    EXPECT_EQ(pre_tokenize(digits, "Call 123 please"), (V{"Call ", "123", " please"}));
    digits["individual_digits"] = true;
    EXPECT_EQ(pre_tokenize(digits, "Call 123 please"), (V{"Call ", "1", "2", "3", " please"}));
    json punct = {{"type", "Punctuation"}};
    EXPECT_EQ(pre_tokenize(punct, "Hey friend!     How are you?!?"),
              (V{"Hey friend", "!", "     How are you", "?", "!", "?"}));
    EXPECT_EQ(pre_tokenize(json{{"type", "Whitespace"}}, "Hey man!"), (V{"Hey", "man", "!"}));
    EXPECT_EQ(pre_tokenize(json{{"type", "WhitespaceSplit"}}, "Hey  man!\t"), (V{"Hey", "man!"}));
}

TEST(PreTokenizers, ByteLevelMapsBytesAndSplits) {
    json cfg = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}};
    // "Ġ" stands for the space byte; the GPT-2 regex splits words, keeping leading spaces.
    EXPECT_EQ(pre_tokenize(cfg, "Hello my friend"),
              (std::vector<std::string>{"\xC4\xA0Hello", "\xC4\xA0my",
                                        "\xC4\xA0"
                                        "friend"}));
}

// ---- Errors -------------------------------------------------------------------------------

json minimal_tokenizer() {
    return json{{"model",
                 {{"type", "BPE"},
                  {"vocab", {{"a", 0}, {"b", 1}, {"ab", 2}}},
                  {"merges", json::array({"a b"})}}}};
}

// Loads `tj` and returns the error message (failing the test if it loads).
std::string load_error(const json& tj, ErrorKind kind = ErrorKind::invalid_input) {
    try {
        Tokenizer::from_json(tj, "/models/x/tokenizer.json");
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), kind) << e.message();
        EXPECT_FALSE(e.hint().empty()) << e.message();
        return e.message();
    }
    ADD_FAILURE() << "expected an error";
    return "";
}

void expect_contains(const std::string& message, const std::vector<std::string>& parts) {
    for (const auto& p : parts)
        EXPECT_NE(message.find(p), std::string::npos) << message;
}

TEST(TokenizerErrors, MinimalTokenizerLoadsAndMerges) {
    auto tok = Tokenizer::from_json(minimal_tokenizer(), "x.json");
    EXPECT_EQ(tok->encode("ab"), (std::vector<int64_t>{*tok->token_to_id("ab")}));
    EXPECT_EQ(tok->vocab_size(), 3);
}

TEST(TokenizerErrors, UnsupportedComponentsAreNamed) {
    json tj = minimal_tokenizer();
    tj["normalizer"] = {{"type", "BertNormalizer"}};
    expect_contains(load_error(tj),
                    {"/models/x/tokenizer.json", "normalizer.type", "BertNormalizer"});

    tj = minimal_tokenizer();
    tj["pre_tokenizer"] = {
        {"type", "Sequence"},
        {"pretokenizers", json::array({{{"type", "Digits"}}, {{"type", "UnicodeScripts"}}})}};
    expect_contains(load_error(tj),
                    {"pre_tokenizer.pretokenizers[1].type", "UnicodeScripts", "pre-tokenizer"});

    tj = minimal_tokenizer();
    tj["model"]["type"] = "Unigram";
    expect_contains(load_error(tj), {"model.type", "Unigram"});

    tj = minimal_tokenizer();
    tj["decoder"] = {{"type", "WordPiece"}, {"prefix", "##"}};
    expect_contains(load_error(tj), {"decoder.type", "WordPiece"});

    tj = minimal_tokenizer();
    tj["post_processor"] = {{"type", "Fancy"}};
    expect_contains(load_error(tj), {"post_processor.type", "Fancy"});
}

TEST(TokenizerErrors, BadValuesNameTheirJsonPath) {
    json tj = minimal_tokenizer();
    tj["pre_tokenizer"] = {{"type", "Split"},
                           {"pattern", {{"String", "-"}}},
                           {"behavior", "Merged"},
                           {"invert", false}};
    expect_contains(load_error(tj), {"pre_tokenizer.behavior", "Merged"});

    tj = minimal_tokenizer();
    tj["pre_tokenizer"] = {{"type", "Split"},
                           {"pattern", {{"Regex", "(unclosed"}}},
                           {"behavior", "Isolated"},
                           {"invert", false}};
    expect_contains(load_error(tj), {"pre_tokenizer.pattern.Regex", "does not compile"});

    tj = minimal_tokenizer();
    tj["model"]["merges"] = json::array({"a c"});
    expect_contains(load_error(tj), {"model.merges[0]", "\"c\""});

    tj = minimal_tokenizer();
    tj["model"]["merges"] = json::array({"a b c"});
    expect_contains(load_error(tj), {"model.merges[0]", "two tokens"});

    tj = minimal_tokenizer();
    tj["model"]["vocab"]["a"] = "zero";
    expect_contains(load_error(tj), {"model.vocab.a"});

    tj = minimal_tokenizer();
    tj["model"]["dropout"] = 0.1;
    expect_contains(load_error(tj), {"model.dropout"});

    tj = minimal_tokenizer();
    tj["model"]["unk_token"] = "<unk>";
    expect_contains(load_error(tj), {"model.unk_token", "not in the vocabulary"});

    tj = minimal_tokenizer();
    tj["added_tokens"] = json::array({{{"content", "<x>"}}});
    expect_contains(load_error(tj), {"added_tokens[0].id", "missing"});

    json no_model = {{"normalizer", nullptr}};
    expect_contains(load_error(no_model), {"model", "missing"});
}

TEST(TokenizerErrors, MalformedFilesAndMissingFiles) {
    TempDir dir;
    write_file(dir.file("tokenizer.json"), "{\n  \"model\": {\n    \"type\": \"BPE\",,\n");
    try {
        Tokenizer::load(dir.path());
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
        expect_contains(e.message(), {dir.file("tokenizer.json"), "line 3"});
    }

    TempDir empty;
    try {
        Tokenizer::load(empty.path());
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::not_found);
    }

    // A malformed tokenizer_config.json beside a good tokenizer.json is named too.
    write_file(dir.file("tokenizer.json"), minimal_tokenizer().dump());
    write_file(dir.file("tokenizer_config.json"), "{\"bos_token\": 5}");
    try {
        Tokenizer::load(dir.path());
        FAIL() << "expected an error";
    } catch (const Error& e) {
        expect_contains(e.message(), {"tokenizer_config.json", "bos_token"});
    }
}

TEST(TokenizerErrors, InvalidIdsAndText) {
    auto tok = Tokenizer::from_json(minimal_tokenizer(), "x.json");
    EXPECT_THROW(tok->decode({0, -5}), Error);
    EXPECT_THROW(tok->pieces({-1}), Error);
    EXPECT_THROW(tok->encode(std::string("\xFF")), Error);
    EXPECT_THROW(tok->encode(std::string("a\xE2\x82")), Error);  // truncated at the end
    EXPECT_EQ(tok->decode({}), "");
    EXPECT_TRUE(tok->encode("").empty());
}

}  // namespace
}  // namespace llmtune::test
