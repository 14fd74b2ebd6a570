// The SentencePiece tokenizer's vocabulary, tokenizer_config.json handling, loading rules and
// errors, on models spm_train makes at test time. Expected ids come from spm_encode and
// spm_export_vocab; the config tests check relations between encodings.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <thread>

#include "common/error.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"
#include "unit/tokenizer/reference_runner.h"
#include "unit/tokenizer/spm_tools.h"

namespace fs = std::filesystem;

namespace llmtune::test {
namespace {

using tokenizer::Tokenizer;
using Ids = std::vector<int64_t>;

std::string bpe_model() {
    return spm_model_dir("bpe") + "/tokenizer.model";
}

// A directory with a copy of the BPE model and the given tokenizer_config.json.
std::string dir_with_config(const TempDir& dir, const json& config) {
    fs::copy_file(bpe_model(), dir.file("tokenizer.model"), fs::copy_options::overwrite_existing);
    write_file(dir.file("tokenizer_config.json"), config.dump());
    return dir.path();
}

Ids spm(const std::string& text) {
    return spm_encode_ids(bpe_model(), {text}).at(0);
}

Ids concat(std::initializer_list<Ids> parts) {
    Ids out;
    for (const auto& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

void expect_invalid(const std::string& path, std::initializer_list<std::string> needles) {
    try {
        Tokenizer::load(path);
        ADD_FAILURE() << "expected an error loading " << path;
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::invalid_input) << e.message();
        for (const auto& n : needles)
            EXPECT_NE(e.message().find(n), std::string::npos)
                << "\"" << n << "\" not in: " << e.message();
    }
}

TEST(SentencePieceVocab, PiecesAndSpecialTokensMatchSpmExportVocab) {
    for (const char* name : {"bpe", "unigram"}) {
        std::string dir = spm_model_dir(name);
        auto tok = Tokenizer::load(dir);
        std::vector<std::string> vocab = spm_export_vocab(dir + "/tokenizer.model");
        ASSERT_GT(vocab.size(), 300u) << name;
        EXPECT_EQ(tok->vocab_size(), static_cast<int64_t>(vocab.size())) << name;
        int wrong = 0;
        for (size_t id = 0; id < vocab.size(); ++id) {
            if (tok->pieces({int64_t(id)})[0] != vocab[id]) ++wrong;
            if (tok->token_to_id(vocab[id]) != std::optional<int64_t>(id)) ++wrong;
            // Control pieces (spm_train's <s>, </s> and --control_symbols) and <unk> are the
            // special tokens; user-defined pieces are not.
            bool control = vocab[id] == "<unk>" || vocab[id] == "<s>" || vocab[id] == "</s>" ||
                           vocab[id] == "<ctl>";
            if (tok->is_special(int64_t(id)) != control) ++wrong;
        }
        EXPECT_EQ(wrong, 0) << name;
        EXPECT_EQ(tok->bos_id(), tok->token_to_id("<s>")) << name;
        EXPECT_EQ(tok->eos_id(), tok->token_to_id("</s>")) << name;
        EXPECT_FALSE(tok->token_to_id("no such piece").has_value());
        // An id past the vocabulary names no token and is skipped, as for tokenizer.json.
        EXPECT_EQ(tok->pieces({tok->vocab_size()})[0], "");
        EXPECT_EQ(tok->decode({tok->vocab_size() + 5}), "");
    }
}

TEST(SentencePieceDecode, SpecialTokensAndPartialCharacters) {
    auto tok = Tokenizer::load(spm_model_dir("bpe"));
    const int64_t bos = *tok->bos_id(), eos = *tok->eos_id();
    Ids hello = spm("Hello world");
    ASSERT_FALSE(hello.empty());
    Ids ids = concat({{bos}, hello, {eos}});
    EXPECT_EQ(tok->decode(ids, true), "Hello world");
    // Without skipping, special tokens are written as their pieces; the dummy-prefix space of
    // the first piece after them is then text, as Hugging Face's Llama tokenizer.json has it.
    EXPECT_EQ(tok->decode(ids, false), "<s> Hello world</s>");
    EXPECT_EQ(tok->decode_text(ids, false), "<s> Hello world</s>");

    // A character the model only has as byte pieces: each prefix decodes to raw bytes, and
    // decode_text replaces each byte of the incomplete sequence (as libsentencepiece does).
    std::string rare = "\xF0\x9F\xA6\x9C";  // U+1F99C, not in the training text
    Ids bytes = tok->encode(rare, false);
    ASSERT_EQ(tok->decode(bytes), rare);
    ASSERT_GE(bytes.size(), 4u);
    Ids head(bytes.end() - 4, bytes.end() - 2);  // two of the four bytes
    EXPECT_EQ(tok->decode(head), "\xF0\x9F");
    EXPECT_EQ(tok->decode_text(head), "\xEF\xBF\xBD\xEF\xBF\xBD");
    std::string streamed;
    for (int64_t id : bytes)
        streamed += tok->decode({id});
    EXPECT_EQ(streamed, tok->decode(bytes));
}

TEST(SentencePieceConfig, AddBosAndEosFollowTokenizerConfig) {
    TempDir dir;
    const std::string text = "the quick brown fox";
    Ids plain = spm(text);
    auto defaults = Tokenizer::load(spm_model_dir("bpe"));  // no config: BOS yes, EOS no
    EXPECT_EQ(defaults->encode(text, true), concat({{*defaults->bos_id()}, plain}));
    EXPECT_EQ(defaults->encode(text, false), plain);

    auto tok = Tokenizer::load(dir_with_config(dir, {{"tokenizer_class", "LlamaTokenizer"},
                                                     {"add_bos_token", false},
                                                     {"add_eos_token", true},
                                                     {"legacy", true}}));
    EXPECT_EQ(tok->encode(text, true), concat({plain, {*tok->eos_id()}}));
    EXPECT_EQ(tok->encode(text, false), plain);

    // eos_token naming a user-defined piece makes it the EOS and a special token.
    auto im_end = Tokenizer::load(
        dir_with_config(dir, {{"eos_token", {{"content", "<|im_end|>"}, {"__type", "AddedToken"}}},
                              {"add_eos_token", true}}));
    ASSERT_TRUE(im_end->eos_id().has_value());
    EXPECT_EQ(im_end->eos_id(), im_end->token_to_id("<|im_end|>"));
    EXPECT_TRUE(im_end->is_special(*im_end->eos_id()));
    EXPECT_EQ(im_end->encode(text, true),
              concat({{*im_end->bos_id()}, plain, {*im_end->eos_id()}}));
    EXPECT_EQ(im_end->decode(im_end->encode("a<|im_end|>", false), true),
              im_end->decode(spm("a"), true));
}

TEST(SentencePieceConfig, AddedTokensDecoderAddsTokensPastTheModel) {
    TempDir dir;
    auto base = Tokenizer::load(spm_model_dir("bpe"));
    const int64_t n = base->vocab_size();
    json added = {
        {std::to_string(n + 1),
         {{"content", "<|new|>"},
          {"special", true},
          {"lstrip", false},
          {"rstrip", false},
          {"normalized", false},
          {"single_word", false}}},
        {std::to_string(n), {{"content", "[word]"}, {"special", false}, {"rstrip", true}}}};
    auto tok = Tokenizer::load(dir_with_config(dir, {{"added_tokens_decoder", added}}));
    EXPECT_EQ(tok->vocab_size(), n + 2);
    EXPECT_EQ(tok->token_to_id("<|new|>"), std::optional<int64_t>(n + 1));
    EXPECT_TRUE(tok->is_special(n + 1));
    EXPECT_FALSE(tok->is_special(n));
    EXPECT_EQ(tok->encode("a b<|new|>c", false), concat({spm("a b"), {n + 1}, spm("c")}));
    // rstrip: the token takes the spaces after it.
    EXPECT_EQ(tok->encode("x[word]   y", false), concat({spm("x"), {n}, spm("y")}));
    EXPECT_EQ(tok->pieces({n + 1})[0], "<|new|>");
    EXPECT_EQ(tok->decode({n + 1}, false), "<|new|>");
    EXPECT_EQ(tok->decode({n + 1}, true), "");
    EXPECT_EQ(tok->decode({n}, true), "[word]");
}

TEST(SentencePieceLoad, TokenizerJsonWinsAndModelPathsLoad) {
    TempDir dir;
    fs::copy_file(bpe_model(), dir.file("tokenizer.model"));
    fs::copy_file(npm_tokenizer_dir("qwen3") + "/tokenizer.json", dir.file("tokenizer.json"));
    auto qwen = Tokenizer::load(npm_tokenizer_dir("qwen3"));
    EXPECT_EQ(Tokenizer::load(dir.path())->vocab_size(), qwen->vocab_size());
    auto sp = Tokenizer::load(dir.file("tokenizer.model"));  // a path to the .model file
    EXPECT_EQ(sp->encode("Hello", false), spm("Hello"));
}

// The llmtune binary holds libtorch and with it libprotobuf, whose symbols clash with the
// protobuf-lite inside Debian's libsentencepiece; loaded in isolation (sentencepiece_library.h),
// the SentencePiece tokenizer works there too and gives the same ids as in this process.
TEST(SentencePieceLoad, WorksInTheLlmtuneBinaryBesideLibtorch) {
    std::string dir = spm_model_dir("bpe");
    const std::string text = "Hello <s> world \xE4\xB8\xAD 123";
    RunResult r = run_command(sh_quote(llmtune_binary()) + " tokenize --model " + sh_quote(dir) +
                              " --json --text " + sh_quote(text));
    ASSERT_EQ(r.exit_code, 0) << r.err << "\nhint: build the llmtune target first";
    json out = parse_json_text(r.out, "llmtune tokenize output");
    auto tok = Tokenizer::load(dir);
    EXPECT_EQ(out["ids"].get<Ids>(), tok->encode(text, true));
    EXPECT_EQ(out["pieces"].get<std::vector<std::string>>(), tok->pieces(tok->encode(text, true)));
}

TEST(SentencePieceLoad, ModelInitAndInfoAcceptATokenizerModelOnlyDirectory) {
    std::string dir = spm_model_dir("bpe");
    TempDir tmp;
    const std::string out = tmp.file("m");
    RunResult init = run_command(sh_quote(llmtune_binary()) + " model init --arch llama --preset tiny --tokenizer " +
                                 sh_quote(dir) + " --out " + sh_quote(out));
    ASSERT_EQ(init.exit_code, 0) << init.err;
    RunResult info = run_command(sh_quote(llmtune_binary()) + " model info --json " + sh_quote(out));
    ASSERT_EQ(info.exit_code, 0) << info.err;
    json j = parse_json_text(info.out, "model info");
    auto tok = Tokenizer::load(dir);
    EXPECT_EQ(j["config"]["vocab_size"].get<int64_t>(), tok->vocab_size());
    EXPECT_EQ(j["tokenizer"]["model"], "SentencePiece");
    EXPECT_TRUE(j["tokenizer"]["chat_template"].get<bool>());  // model init added one
}

TEST(SentencePieceErrors, CorruptModelFilesAreInvalidInputNamingTheFile) {
    std::string good = read_file(bpe_model());
    ASSERT_GT(good.size(), 1000u);
    TempDir dir;
    std::string path = dir.file("tokenizer.model");
    auto expect_corrupt = [&](const std::string& bytes, const char* what) {
        SCOPED_TRACE(what);
        write_file(path, bytes);
        expect_invalid(dir.path(), {path});
    };
    expect_corrupt("", "empty file");
    expect_corrupt("this is not a SentencePiece model\n", "text");
    expect_corrupt("{\"model\": {\"type\": \"BPE\"}}", "JSON");
    expect_corrupt(good.substr(0, good.size() / 2), "truncated");
    expect_corrupt(std::string("\x0a\xff\xff\xff\xff\x0f", 6), "a length past the end");

    // Random damage: loading either works or fails with an Error, never crashes; what loads
    // still encodes and decodes.
    std::mt19937 rng(99);
    int loaded = 0, rejected = 0;
    for (int round = 0; round < 300; ++round) {
        std::string bytes = good;
        if (round % 3 == 0) {
            bytes.resize(rng() % bytes.size());
        } else {
            for (int k = 0; k < 1 + round % 5; ++k)
                bytes[rng() % bytes.size()] = static_cast<char>(rng());
        }
        write_file(path, bytes);
        try {
            auto tok = Tokenizer::load(dir.path());
            tok->decode(tok->encode("Hello world \xE4\xB8\xAD <s> 123", true), false);
            ++loaded;
        } catch (const Error& e) {
            ++rejected;
            EXPECT_EQ(e.kind(), ErrorKind::invalid_input) << e.message();
        }
    }
    EXPECT_GT(rejected, 0);
    std::printf("[random damage] %d loaded, %d rejected\n", loaded, rejected);
}

TEST(SentencePieceErrors, UnsupportedConfigurationsAreNamed) {
    TempDir dir;
    std::string config = dir.file("tokenizer_config.json");
    dir_with_config(dir, {{"tokenizer_class", "LlamaTokenizer"}, {"legacy", false}});
    expect_invalid(dir.path(), {config, "legacy"});
    dir_with_config(dir, {{"tokenizer_class", "T5Tokenizer"}});
    expect_invalid(dir.path(), {config, "tokenizer_class", "T5Tokenizer"});
    dir_with_config(dir, {{"eos_token", nullptr}, {"add_eos_token", true}});
    expect_invalid(dir.path(), {config, "eos_token"});
    dir_with_config(dir, {{"additional_special_tokens", {"<|nowhere|>"}}});
    expect_invalid(dir.path(), {config, "additional_special_tokens[0]"});
    dir_with_config(dir, {{"added_tokens_decoder", {{"x1", {{"content", "a"}}}}}});
    expect_invalid(dir.path(), {config, "added_tokens_decoder"});
}

TEST(SentencePieceErrors, InvalidTextAndIds) {
    auto tok = Tokenizer::load(spm_model_dir("unigram"));
    try {
        tok->encode(std::string("ok \xC3\x28"));
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
        EXPECT_NE(e.message().find("byte 3"), std::string::npos) << e.message();
    }
    EXPECT_THROW(tok->decode({1, -2}), Error);
    EXPECT_THROW(tok->pieces({-1}), Error);
    EXPECT_EQ(tok->decode({}), "");
    EXPECT_EQ(tok->encode("", false), Ids{});
    EXPECT_EQ(tok->encode("", true), Ids{*tok->bos_id()});
}

TEST(SentencePieceThreads, ConcurrentEncodingMatchesSequential) {
    auto tok = Tokenizer::load(spm_model_dir("unigram"));
    const auto& texts = spm_test_texts();
    std::vector<Ids> expected;
    for (const auto& t : texts)
        expected.push_back(tok->encode(t));
    std::vector<int> failures(4, 0);
    std::vector<std::thread> threads;
    for (int w = 0; w < 4; ++w)
        threads.emplace_back([&, w] {
            for (size_t i = w; i < texts.size(); i += 1 + w)
                if (tok->encode(texts[i]) != expected[i]) ++failures[w];
        });
    for (auto& th : threads)
        th.join();
    for (int w = 0; w < 4; ++w)
        EXPECT_EQ(failures[w], 0) << "worker " << w;
}

}  // namespace
}  // namespace llmtune::test
