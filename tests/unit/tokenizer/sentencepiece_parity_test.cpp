// Parity of llmtune's SentencePiece tokenizer (tokenizer.model through libsentencepiece) with
// Debian's independent command-line tools, on models that spm_train makes at test time (no
// SentencePiece model is published on npm): a Llama-like BPE with byte fallback and a unigram
// with spm_train's defaults. Expected ids come from spm_encode, expected text from spm_decode,
// over ~2,800 one-line strings from the tokenizer parity corpus.
#include <gtest/gtest.h>

#include <random>
#include <sstream>

#include "support/test_support.h"
#include "tokenizer/tokenizer.h"
#include "unit/tokenizer/reference_runner.h"
#include "unit/tokenizer/spm_tools.h"

namespace llmtune::test {
namespace {

using tokenizer::Tokenizer;
using Ids = std::vector<int64_t>;

constexpr int kMaxReported = 8;
const std::string kMeta = "\xE2\x96\x81";  // ▁

// The special-token strings of a tokenizer: split out of the text before SentencePiece runs.
std::vector<std::string> special_strings(const Tokenizer& tok) {
    std::vector<std::string> out;
    for (int64_t id = 0; id < tok.vocab_size(); ++id)
        if (tok.is_special(id)) out.push_back(tok.pieces({id})[0]);
    return out;
}

// `text` cut at the leftmost-longest occurrences of `specials`: the plain stretches (possibly
// empty) in `plain`, and between each two of them the special string found, in `found`.
void cut_at_specials(const std::string& text, const std::vector<std::string>& specials,
                     std::vector<std::string>& plain, std::vector<std::string>& found) {
    size_t start = 0, i = 0;
    while (i < text.size()) {
        const std::string* best = nullptr;
        for (const auto& s : specials)
            if (text.compare(i, s.size(), s) == 0 && (!best || s.size() > best->size())) best = &s;
        if (!best) {
            ++i;
            continue;
        }
        plain.push_back(text.substr(start, i - start));
        found.push_back(*best);
        i += best->size();
        start = i;
    }
    plain.push_back(text.substr(start));
}

struct ModelCase {
    std::string name;
    bool lossless;  // decode(encode(s)) == s for text without "▁" and special strings
};

void PrintTo(const ModelCase& c, std::ostream* os) {
    *os << c.name;
}

class SentencePieceParity : public ::testing::TestWithParam<ModelCase> {};

TEST_P(SentencePieceParity, EncodeAndDecodeMatchSpmToolsOverCorpus) {
    const ModelCase& c = GetParam();
    std::string dir = spm_model_dir(c.name);
    std::string model = dir + "/tokenizer.model";
    auto tok = Tokenizer::load(dir);  // a directory with tokenizer.model only
    ASSERT_TRUE(tok->bos_id().has_value());
    const int64_t bos = *tok->bos_id();
    const std::vector<std::string> specials = special_strings(*tok);
    ASSERT_GE(specials.size(), 3u);  // <unk>, <s>, </s> at least

    std::vector<std::string> plain_texts, special_texts;
    for (const auto& t : spm_test_texts()) {
        std::vector<std::string> plain, found;
        cut_at_specials(t, specials, plain, found);
        (found.empty() ? plain_texts : special_texts).push_back(t);
    }
    auto ref_ids = spm_encode_ids(model, plain_texts);
    auto ref_pieces = spm_encode_pieces(model, plain_texts);
    ASSERT_EQ(ref_ids.size(), plain_texts.size());
    ASSERT_EQ(ref_pieces.size(), plain_texts.size());

    int encode_mismatches = 0, bos_mismatches = 0, piece_mismatches = 0, round_trips = 0;
    int round_trip_failures = 0, prefix_failures = 0, unk_texts = 0, byte_texts = 0;
    std::ostringstream report;
    auto note = [&](int& counter, const std::string& what) {
        if (++counter <= kMaxReported) report << what << "\n";
    };
    std::vector<Ids> decodable;  // reference ids without <unk>, for spm_decode
    for (size_t i = 0; i < plain_texts.size(); ++i) {
        const std::string& text = plain_texts[i];
        Ids ids = tok->encode(text, false);
        if (ids != ref_ids[i])
            note(encode_mismatches, "encode " + show_bytes(text) + "\n  llmtune    " +
                                        show_ids(ids) + "\n  spm_encode " + show_ids(ref_ids[i]));
        Ids with_bos = tok->encode(text, true);
        Ids expected = ref_ids[i];
        expected.insert(expected.begin(), bos);
        if (with_bos != expected) note(bos_mismatches, "encode with BOS " + show_bytes(text));
        bool has_unk = false, has_byte = false;
        for (int64_t id : ref_ids[i]) {
            std::string p = tok->pieces({id})[0];
            has_unk = has_unk || tok->is_special(id);  // spm_encode's only special is <unk>
            has_byte = has_byte || (p.size() == 6 && p.compare(0, 3, "<0x") == 0);
        }
        // spm_encode writes the text of an unknown character as its piece; transformers (and
        // llmtune) write "<unk>".
        if (!has_unk && tok->pieces(ref_ids[i]) != ref_pieces[i])
            note(piece_mismatches, "pieces " + show_bytes(text));
        unk_texts += has_unk;
        byte_texts += has_byte;
        if (!has_unk) decodable.push_back(ref_ids[i]);

        if (c.lossless && !has_unk && text.find(kMeta) == std::string::npos) {
            ++round_trips;
            std::string back = tok->decode(ids);
            if (back != text)
                note(round_trip_failures,
                     "round trip " + show_bytes(text) + " -> " + show_bytes(back));
        }
        // Streaming: the decoding of every prefix of the ids is a prefix of the whole.
        std::string whole = tok->decode(with_bos, false);
        for (size_t k = 1; k < with_bos.size(); k += 1 + with_bos.size() / 7) {
            Ids head(with_bos.begin(), with_bos.begin() + static_cast<long>(k));
            std::string part = tok->decode(head, false);
            if (whole.compare(0, part.size(), part) != 0) {
                note(prefix_failures, "prefix " + show_ids(head) + " of " + show_bytes(text));
                break;
            }
        }
    }

    // Decoding the reference ids gives what spm_decode gives.
    int decode_mismatches = 0;
    auto ref_text = spm_decode_ids(model, decodable);
    ASSERT_EQ(ref_text.size(), decodable.size());
    for (size_t i = 0; i < decodable.size(); ++i) {
        std::string ours = tok->decode_text(decodable[i]);
        if (ours != ref_text[i])
            note(decode_mismatches, "decode " + show_ids(decodable[i]) + "\n  llmtune    " +
                                        show_bytes(ours) + "\n  spm_decode " +
                                        show_bytes(ref_text[i]));
        if (tok->decode(decodable[i]) != ours)
            note(decode_mismatches, "decode != decode_text for " + show_ids(decodable[i]));
    }

    // Texts with special-token strings: the strings become their ids, and each stretch between
    // them is encoded on its own (transformers' legacy LlamaTokenizer), by spm_encode here.
    std::vector<std::string> segments;
    std::vector<std::vector<std::string>> found_per_text;
    std::vector<size_t> first_segment;
    for (const auto& t : special_texts) {
        std::vector<std::string> plain, found;
        cut_at_specials(t, specials, plain, found);
        first_segment.push_back(segments.size());
        segments.insert(segments.end(), plain.begin(), plain.end());
        found_per_text.push_back(found);
    }
    auto segment_ids = spm_encode_ids(model, segments);
    ASSERT_EQ(segment_ids.size(), segments.size());
    int special_mismatches = 0;
    for (size_t i = 0; i < special_texts.size(); ++i) {
        Ids expected;
        size_t seg = first_segment[i];
        for (size_t k = 0; k <= found_per_text[i].size(); ++k) {
            const Ids& part = segment_ids[seg + k];
            expected.insert(expected.end(), part.begin(), part.end());
            if (k < found_per_text[i].size())
                expected.push_back(*tok->token_to_id(found_per_text[i][k]));
        }
        Ids ids = tok->encode(special_texts[i], false);
        if (ids != expected)
            note(special_mismatches, "encode " + show_bytes(special_texts[i]) + "\n  llmtune  " +
                                         show_ids(ids) + "\n  expected " + show_ids(expected));
    }

    EXPECT_EQ(encode_mismatches, 0) << report.str();
    EXPECT_EQ(bos_mismatches, 0) << report.str();
    EXPECT_EQ(piece_mismatches, 0) << report.str();
    EXPECT_EQ(decode_mismatches, 0) << report.str();
    EXPECT_EQ(special_mismatches, 0) << report.str();
    EXPECT_EQ(round_trip_failures, 0) << report.str();
    EXPECT_EQ(prefix_failures, 0) << report.str();
    EXPECT_GE(plain_texts.size(), 2000u);
    EXPECT_GE(special_texts.size(), 50u);
    EXPECT_GE(decodable.size(), 1500u);
    // The corpus reaches the paths that matter for each model.
    if (c.name == "bpe") {
        EXPECT_GE(byte_texts, 50) << "byte fallback was not exercised";
        EXPECT_GE(round_trips, 1500);
    } else {
        EXPECT_GE(unk_texts, 50) << "<unk> was not exercised";
    }
    std::printf(
        "[%s] %zu plain strings, %zu with special tokens, %zu decodes, %d round trips, %d with "
        "<unk>, %d with byte pieces\n",
        c.name.c_str(), plain_texts.size(), special_texts.size(), decodable.size(), round_trips,
        unk_texts, byte_texts);
}

// Id sequences no text produced, so that byte pieces, control pieces and leading "▁" meet (and a
// third of them start with control or bare "▁" pieces, a third mix in the bytes of characters cut
// short): decode_text must match spm_decode (which drops control pieces, as skip_special_tokens
// does, and turns each byte of an invalid sequence into U+FFFD).
TEST_P(SentencePieceParity, RandomIdSequencesDecodeLikeSpmDecode) {
    std::string dir = spm_model_dir(GetParam().name);
    auto tok = Tokenizer::load(dir);
    std::vector<int64_t> pool;
    for (int64_t id = 0; id < tok->vocab_size(); ++id) {
        std::string piece = tok->pieces({id})[0];
        // spm_decode writes <unk> as " ⁇ " where transformers (and llmtune) skip it or write
        // "<unk>"; a newline would break the line-based tool.
        if (piece == "<unk>" || piece == "<0x0A>") continue;
        pool.push_back(id);
    }
    // What decides the leading space: sequences that start with control pieces and with the
    // bare "▁" piece; and for byte fallback, the bytes of characters cut short.
    Ids starts;
    for (int64_t id = 0; id < tok->vocab_size(); ++id)
        if (tok->pieces({id})[0] == kMeta ||
            (tok->is_special(id) && tok->pieces({id})[0] != "<unk>"))
            starts.push_back(id);
    ASSERT_GE(starts.size(), 3u);
    std::vector<int64_t> bytes(256, -1);
    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        if (auto id = tok->token_to_id(name)) bytes[b] = *id;
    }
    const bool byte_fallback = bytes[0x80] >= 0;
    // Two-, three- and four-byte characters, and an encoded surrogate (never valid).
    const char* chars[] = {"\xC3\xA9", "\xE4\xB8\xAD", "\xF0\x9F\xA6\x9C", "\xED\x9F\xBF",
                           "\xED\xA0\x80"};
    std::mt19937 rng(4321);
    std::vector<Ids> sequences;
    for (int n = 0; n < 600; ++n) {
        Ids ids;
        if (n % 3 == 1)
            for (size_t k = 1 + rng() % 3; k > 0; --k)
                ids.push_back(starts[rng() % starts.size()]);
        size_t len = 1 + rng() % 12;
        for (size_t k = 0; k < len; ++k) {
            if (byte_fallback && n % 3 == 2 && rng() % 2) {
                std::string c = chars[rng() % 5];
                size_t keep = 1 + rng() % c.size();  // sometimes all of it
                for (size_t b = 0; b < keep; ++b)
                    ids.push_back(bytes[static_cast<unsigned char>(c[b])]);
            } else {
                ids.push_back(pool[rng() % pool.size()]);
            }
        }
        sequences.push_back(ids);
    }
    auto ref = spm_decode_ids(dir + "/tokenizer.model", sequences);
    ASSERT_EQ(ref.size(), sequences.size());
    int mismatches = 0, prefix_failures = 0;
    std::ostringstream report;
    for (size_t i = 0; i < sequences.size(); ++i) {
        std::string ours = tok->decode_text(sequences[i], true);
        if (ours != ref[i] && ++mismatches <= kMaxReported)
            report << show_ids(sequences[i]) << "\n  llmtune    " << show_bytes(ours)
                   << "\n  spm_decode " << show_bytes(ref[i]) << "\n";
        std::string whole = tok->decode(sequences[i], false);
        for (size_t k = 1; k < sequences[i].size(); ++k) {
            Ids head(sequences[i].begin(), sequences[i].begin() + static_cast<long>(k));
            if (whole.compare(0, tok->decode(head, false).size(), tok->decode(head, false)) != 0) {
                ++prefix_failures;
                break;
            }
        }
    }
    EXPECT_EQ(mismatches, 0) << report.str();
    EXPECT_EQ(prefix_failures, 0);
}

INSTANTIATE_TEST_SUITE_P(TrainedModels, SentencePieceParity,
                         ::testing::Values(ModelCase{"bpe", true}, ModelCase{"unigram", false}),
                         [](const ::testing::TestParamInfo<ModelCase>& info) {
                             return info.param.name;
                         });

}  // namespace
}  // namespace llmtune::test
