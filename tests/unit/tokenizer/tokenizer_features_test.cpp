// Tokenizer features that the real files do not all exercise, on synthetic tokenizer.json
// files: unk/fuse_unk, byte_fallback, normalizers, Split variants, Digits, added tokens with
// lstrip/rstrip, templates with BOS and EOS. Where @lenml/tokenizers implements a feature the
// same way as Hugging Face, the expected ids come from it at test time; otherwise (single_word,
// normalized added tokens, merges formats, Llama add_bos/add_eos) the tests check relations
// between encodings rather than literal ids.
#include <gtest/gtest.h>

#include <cstdio>
#include <sstream>

#include "common/error.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"
#include "unit/tokenizer/reference_runner.h"

namespace llmtune::test {
namespace {

using tokenizer::Tokenizer;
using Ids = std::vector<int64_t>;

const std::string kMeta = "\xE2\x96\x81";  // ▁

// A small BPE over single characters plus merges (the merged tokens join the vocabulary).
json small_bpe(const std::vector<std::string>& specials, const std::vector<std::string>& chars,
               const std::vector<std::pair<std::string, std::string>>& merges) {
    json vocab = json::object();
    json added = json::array();
    int64_t next = 0;
    for (const auto& s : specials) {
        added.push_back({{"id", next},
                         {"content", s},
                         {"single_word", false},
                         {"lstrip", false},
                         {"rstrip", false},
                         {"normalized", false},
                         {"special", true}});
        vocab[s] = next++;
    }
    for (const auto& c : chars)
        if (!vocab.contains(c)) vocab[c] = next++;
    json merge_list = json::array();
    for (const auto& [a, b] : merges) {
        if (!vocab.contains(a + b)) vocab[a + b] = next++;
        merge_list.push_back(a + " " + b);
    }
    return json{{"added_tokens", added},
                {"normalizer", nullptr},
                {"pre_tokenizer", nullptr},
                {"post_processor", nullptr},
                {"decoder", nullptr},
                {"model",
                 {{"type", "BPE"},
                  {"dropout", nullptr},
                  {"unk_token", nullptr},
                  {"fuse_unk", false},
                  {"byte_fallback", false},
                  {"vocab", vocab},
                  {"merges", merge_list}}}};
}

std::vector<std::string> letters() {
    std::vector<std::string> v{kMeta, ".", ",", "!", "?", "'"};
    for (char c = 'a'; c <= 'z'; ++c)
        v.push_back(std::string(1, c));
    for (char c = 'A'; c <= 'Z'; ++c)
        v.push_back(std::string(1, c));
    for (char c = '0'; c <= '9'; ++c)
        v.push_back(std::string(1, c));
    return v;
}

std::vector<std::pair<std::string, std::string>> english_merges() {
    return {{kMeta, "t"}, {"h", "e"},          {kMeta + "t", "he"}, {"i", "n"},   {"a", "t"},
            {kMeta, "c"}, {kMeta + "c", "at"}, {"e", "r"},          {"l", "l"},   {"o", "r"},
            {kMeta, "w"}, {kMeta + "w", "or"}, {"ll", "o"},         {"e", "llo"}, {"h", "ello"}};
}

json template_processor() {
    return json{{"type", "TemplateProcessing"},
                {"single", json::array({{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                                        {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                                        {{"SpecialToken", {{"id", "</s>"}, {"type_id", 0}}}}})},
                {"pair", json::array()},
                {"special_tokens",
                 {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}},
                  {"</s>", {{"id", "</s>"}, {"ids", {2}}, {"tokens", {"</s>"}}}}}}};
}

// Writes `tj` (and `config`, if any) to a directory, encodes and decodes `texts` with
// llmtune and with the reference, and reports every difference.
void expect_same_as_reference(const json& tj, const std::vector<std::string>& texts,
                              const json& config = json()) {
    TempDir dir;
    write_file(dir.file("tokenizer.json"), tj.dump());
    if (!config.is_null()) write_file(dir.file("tokenizer_config.json"), config.dump());
    write_json(dir.file("texts.json"), texts);
    auto tok = Tokenizer::load(dir.path());
    json ref = run_tokenize_reference("--tokenizer '" + dir.path() + "' --texts '" +
                                      dir.file("texts.json") + "'");
    ASSERT_FALSE(ref.is_null());
    std::ostringstream report;
    int mismatches = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
        const json& r = ref["results"][i];
        Ids ids = tok->encode(texts[i], true), plain = tok->encode(texts[i], false);
        Ids ref_ids = r["ids"].get<Ids>();
        auto check = [&](bool ok, const std::string& what, const std::string& ours,
                         const std::string& theirs) {
            if (!ok && ++mismatches <= 10)
                report << what << " of " << show_bytes(texts[i]) << "\n  llmtune   " << ours
                       << "\n  reference " << theirs << "\n";
        };
        check(ids == ref_ids, "encode", show_ids(ids), show_ids(ref_ids));
        check(plain == r["ids_plain"].get<Ids>(), "encode(add_special_tokens=false)",
              show_ids(plain), show_ids(r["ids_plain"].get<Ids>()));
        std::string d = tok->decode(ref_ids, false), ds = tok->decode(ref_ids, true);
        check(d == r["decoded"], "decode", show_bytes(d), show_bytes(r["decoded"]));
        check(ds == r["decoded_skip"], "decode(skip_special_tokens)", show_bytes(ds),
              show_bytes(r["decoded_skip"]));
    }
    EXPECT_EQ(mismatches, 0) << report.str();
}

std::shared_ptr<Tokenizer> from(const json& tj, const json& config = json()) {
    return Tokenizer::from_json(tj, "synthetic/tokenizer.json", config);
}

size_t count(const Ids& ids, int64_t id) {
    return std::count(ids.begin(), ids.end(), id);
}

const std::vector<std::string> kTexts = {
    "the cat",
    "the cat sat on the mat, hello world!",
    " leading and  double  spaces ",
    "h\xC3\xA9llo w\xC3\xB6rld",  // héllo wörld: unknown letters
    "\xC3\x80\xC3\x89\xC3\x8E \xF0\x9F\x98\x80\xF0\x9F\x98\x80 end",  // ÀÉÎ 😀😀 end
    "\xE4\xBD\xA0\xE5\xA5\xBD",                                       // 你好
    "<s>the</s> cat",
    "THE CAT",
    "",
    " ",
    "12345 6",
};

TEST(TokenizerFeatures, MetaspaceUnkFuseUnkAndTemplate) {
    json tj = small_bpe({"<unk>", "<s>", "</s>"}, letters(), english_merges());
    tj["model"]["unk_token"] = "<unk>";
    tj["model"]["fuse_unk"] = true;
    json meta = {{"type", "Metaspace"},
                 {"replacement", kMeta},
                 {"add_prefix_space", true},
                 {"prepend_scheme", "always"},
                 {"split", false}};
    tj["pre_tokenizer"] = meta;
    tj["decoder"] = meta;
    tj["post_processor"] = template_processor();
    expect_same_as_reference(tj, kTexts);
    const std::string accents = "\xC3\x80\xC3\x89\xC3\x8E";  // ÀÉÎ: three unknown letters
    EXPECT_EQ(count(from(tj)->encode(accents), 0), 1u);
    // Without fuse_unk every unknown character is its own <unk>.
    tj["model"]["fuse_unk"] = false;
    expect_same_as_reference(tj, kTexts);
    EXPECT_EQ(count(from(tj)->encode(accents), 0), 3u);
}

TEST(TokenizerFeatures, ByteFallbackWithLlamaStyleNormalizerAndDecoders) {
    std::vector<std::string> chars = letters();
    for (int b = 0; b < 256; ++b) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "<0x%02X>", b);
        chars.push_back(buf);
    }
    json tj = small_bpe({"<unk>", "<s>", "</s>"}, chars, english_merges());
    tj["model"]["unk_token"] = "<unk>";
    tj["model"]["fuse_unk"] = true;
    tj["model"]["byte_fallback"] = true;
    tj["normalizer"] = {
        {"type", "Sequence"},
        {"normalizers",
         json::array({{{"type", "Prepend"}, {"prepend", kMeta}},
                      {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kMeta}}})}};
    tj["decoder"] = {
        {"type", "Sequence"},
        {"decoders",
         json::array({{{"type", "Replace"}, {"pattern", {{"String", kMeta}}}, {"content", " "}},
                      {{"type", "ByteFallback"}},
                      {{"type", "Fuse"}},
                      {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}})}};
    tj["post_processor"] = template_processor();
    expect_same_as_reference(tj, kTexts);
    auto tok = from(tj);
    Ids ids = tok->encode("\xE4\xBD\xA0", false);  // 你: three byte tokens, no <unk>
    EXPECT_EQ(tok->pieces(ids), (std::vector<std::string>{kMeta, "<0xE4>", "<0xBD>", "<0xA0>"}));
    EXPECT_EQ(tok->decode(ids), "\xE4\xBD\xA0");
}

std::string gpt2_dir() {
    static TempDir* dir = [] {
        auto* d = new TempDir();
        RunResult r = run_command("node '" + std::string(LLMTUNE_SOURCE_DIR) +
                                  "/tests/reference/make_gpt2_tokenizer.mjs' '" + d->path() + "'");
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return d;
    }();
    return dir->path();
}

json gpt2_json() {
    return read_json_file(gpt2_dir() + "/tokenizer.json");
}

const std::vector<std::string> kMixed = {
    "\xEF\xBC\xA8\xEF\xBD\x85\xEF\xBD\x8C\xEF\xBD\x8C\xEF\xBD\x8F\xE3\x80\x80World",  // Ｈｅｌｌｏ　World
    "\xEF\xAC\x81ne \xE2\x91\xA0 \xC2\xBD",                               // ﬁne ① ½
    "\xC3\x80\xC3\x89\xC3\x8E\xC3\x95\xC3\x9C caf\xC3\xA9 cafe\xCC\x81",  // ÀÉÎÕÜ café café
    "  Multiple   Spaces\t\tand\nNewlines  ",
    "\xC4\xB0stanbul \xC3\x85NGSTR\xC3\x96M Stra\xC3\x9F"
    "e",  // İstanbul ÅNGSTRÖM Straße
    "Phone 555-123-4567 and 2024-01-15",
    "well-known self-made x--y",
    "MiXeD CaSe 123abc",
    "",
};

TEST(TokenizerFeatures, NormalizerSequences) {
    json tj = gpt2_json();
    tj["normalizer"] = {
        {"type", "Sequence"},
        {"normalizers",
         json::array({{{"type", "NFKC"}},
                      {{"type", "Lowercase"}},
                      {{"type", "Replace"}, {"pattern", {{"Regex", "\\s+"}}}, {"content", " "}},
                      {{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}}})}};
    expect_same_as_reference(tj, kMixed);
    tj["normalizer"] = {
        {"type", "Sequence"},
        {"normalizers",
         json::array({{{"type", "NFD"}}, {{"type", "StripAccents"}}, {{"type", "NFC"}}})}};
    expect_same_as_reference(tj, kMixed);
    tj["normalizer"] = {{"type", "NFKD"}};
    expect_same_as_reference(tj, kMixed);
}

TEST(TokenizerFeatures, SplitVariantsAndDigits) {
    // Only ASCII digits: the reference's Digits uses JavaScript's \d, where Hugging Face
    // (and llmtune) split every Unicode number (e.g. "①", "½").
    std::vector<std::string> texts;
    for (const auto& t : kMixed)
        if (t.find("\xE2\x91\xA0") == std::string::npos) texts.push_back(t);
    json tj = gpt2_json();
    json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}};
    tj["pre_tokenizer"] = {
        {"type", "Sequence"},
        {"pretokenizers", json::array({{{"type", "Split"},
                                        {"pattern", {{"Regex", "-"}}},
                                        {"behavior", "Removed"},
                                        {"invert", false}},
                                       {{"type", "Split"},
                                        {"pattern", {{"Regex", "[A-Za-z]+| ?[0-9]+"}}},
                                        {"behavior", "Isolated"},
                                        {"invert", false}},
                                       {{"type", "Digits"}, {"individual_digits", true}},
                                       byte_level})}};
    expect_same_as_reference(tj, texts);
    tj["pre_tokenizer"] = {
        {"type", "Sequence"},
        {"pretokenizers", json::array({{{"type", "Split"},
                                        {"pattern", {{"Regex", "[A-Za-z]+|[0-9]+"}}},
                                        {"behavior", "Removed"},
                                        {"invert", true}},
                                       {{"type", "Digits"}, {"individual_digits", false}},
                                       byte_level})}};
    expect_same_as_reference(tj, texts);
}

TEST(TokenizerFeatures, AddedTokensWithLstripAndRstrip) {
    json tj = gpt2_json();
    tj["added_tokens"].push_back({{"id", 50257},
                                  {"content", "<mask>"},
                                  {"single_word", false},
                                  {"lstrip", true},
                                  {"rstrip", false},
                                  {"normalized", false},
                                  {"special", true}});
    tj["added_tokens"].push_back({{"id", 50258},
                                  {"content", "[SEP]"},
                                  {"single_word", false},
                                  {"lstrip", false},
                                  {"rstrip", true},
                                  {"normalized", false},
                                  {"special", false}});
    expect_same_as_reference(tj, {"Hello   <mask> world", "a<mask>b", "x [SEP]   y",
                                  "[SEP][SEP]  <mask>  [SEP]", "  <mask>", "[SEP]\n\n", "<mask"});
}

// ---- Relations (no reference implements these as Hugging Face does) ------------------------

TEST(TokenizerFeatures, SingleWordAddedTokensMatchOnlyWholeWords) {
    json tj = gpt2_json();
    auto base = from(tj);
    tj["added_tokens"].push_back({{"id", 50257},
                                  {"content", "cat"},
                                  {"single_word", true},
                                  {"lstrip", false},
                                  {"rstrip", false},
                                  {"normalized", false},
                                  {"special", false}});
    auto tok = from(tj);
    EXPECT_EQ(tok->encode("cat"), (Ids{50257}));
    EXPECT_EQ(tok->encode("concat"), base->encode("concat"));
    EXPECT_EQ(tok->encode("cats"), base->encode("cats"));
    Ids in_sentence = tok->encode("a cat.");
    EXPECT_NE(std::find(in_sentence.begin(), in_sentence.end(), 50257), in_sentence.end());
    // Without single_word the same token breaks words.
    tj["added_tokens"].back()["single_word"] = false;
    Ids broken = from(tj)->encode("concat");
    EXPECT_EQ(broken.back(), 50257);
}

TEST(TokenizerFeatures, NormalizedAddedTokensMatchAfterNormalization) {
    json tj = gpt2_json();
    tj["normalizer"] = {{"type", "Lowercase"}};
    json token = {{"id", 50257},     {"content", "HELLO"}, {"single_word", false},
                  {"lstrip", false}, {"rstrip", false},    {"normalized", true},
                  {"special", false}};
    tj["added_tokens"].push_back(token);
    auto tok = from(tj);
    // "HeLLo there" lowercases to "hello there", where the normalized token "hello" is found.
    EXPECT_EQ(tok->encode("HeLLo there")[0], 50257);
    EXPECT_EQ(tok->decode({50257}), "hello");  // decoding gives the normalized form
    tj["added_tokens"].back()["normalized"] = false;
    auto raw = from(tj);
    EXPECT_NE(raw->encode("HeLLo there")[0], 50257);
    EXPECT_EQ(raw->encode("HELLO there")[0], 50257);
}

TEST(TokenizerFeatures, BothMergesFormatsGiveTheSameIds) {
    json strings = gpt2_json();
    json pairs = strings;
    json converted = json::array();
    for (const auto& m : strings["model"]["merges"]) {
        std::string s = m.get<std::string>();
        size_t sp = s.find(' ');
        converted.push_back(json::array({s.substr(0, sp), s.substr(sp + 1)}));
    }
    pairs["model"]["merges"] = converted;
    auto a = from(strings), b = from(pairs);
    for (const auto& text : kMixed)
        EXPECT_EQ(a->encode(text), b->encode(text)) << text;
    for (const auto& text : kTexts)
        EXPECT_EQ(a->encode(text), b->encode(text)) << text;
}

TEST(TokenizerFeatures, LlamaConfigAddBosAndEosRebuildTheTemplate) {
    std::string dir = npm_tokenizer_dir("llama2");
    json tj = read_json_file(dir + "/tokenizer.json");
    json cfg = read_json_file(dir + "/tokenizer_config.json");
    cfg["add_eos_token"] = true;
    auto tok = from(tj, cfg);
    ASSERT_TRUE(tok->bos_id() && tok->eos_id());
    for (const std::string text : {"Hello world", "", "<s> x"}) {
        Ids plain = tok->encode(text, false);
        Ids expected{*tok->bos_id()};
        expected.insert(expected.end(), plain.begin(), plain.end());
        expected.push_back(*tok->eos_id());
        EXPECT_EQ(tok->encode(text, true), expected) << text;
    }
    cfg["add_bos_token"] = false;
    cfg["add_eos_token"] = false;
    tok = from(tj, cfg);
    EXPECT_EQ(tok->encode("Hello world", true), tok->encode("Hello world", false));
    // Other classes keep the file's post-processor.
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast";
    tok = from(tj, cfg);
    EXPECT_EQ(tok->encode("Hello world", true)[0], *tok->bos_id());
}

}  // namespace
}  // namespace llmtune::test
