#include "tokenizer/sentencepiece_model.h"

#include <unordered_map>

#include "common/error.h"
#include "tokenizer/added_vocabulary.h"
#include "tokenizer/json_path.h"
#include "tokenizer/sentencepiece_library.h"
#include "tokenizer/sentencepiece_proto.h"
#include "tokenizer/unicode_text.h"

namespace llmtune::tokenizer {

namespace {

constexpr int64_t kMaxTokenId = int64_t(1) << 26;  // as for tokenizer.json: bounds allocations
const char kSpaceSymbol[] = "\xE2\x96\x81";        // U+2581 "▁"
const char kReplacement[] = "\xEF\xBF\xBD";        // U+FFFD

// tokenizer_config.json writes a token as a string or as {"content": ...}; null means none.
std::optional<std::string> config_token(const JsonPath& v) {
    if (v.is_null()) return std::nullopt;
    if (v.value().is_string()) return v.string();
    if (v.value().is_object()) return v.at("content").string();
    v.fail("expected a token string or {\"content\": ...}");
}

// Length of the valid UTF-8 character at s[i] (no overlong forms, surrogates or code points
// past U+10FFFF), or 0: libsentencepiece's test for byte pieces in decoding.
size_t valid_char_length(std::string_view s, size_t i) {
    auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    auto trail = [&](size_t k) { return k < s.size() && (byte(k) & 0xC0) == 0x80; };
    unsigned char c = byte(i);
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) {
        if (!trail(i + 1)) return 0;
        char32_t cp = (char32_t(c & 0x1F) << 6) | (byte(i + 1) & 0x3F);
        return cp >= 0x80 ? 2 : 0;
    }
    if ((c & 0xF0) == 0xE0) {
        if (!trail(i + 1) || !trail(i + 2)) return 0;
        char32_t cp =
            (char32_t(c & 0x0F) << 12) | (char32_t(byte(i + 1) & 0x3F) << 6) | (byte(i + 2) & 0x3F);
        return cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF) ? 3 : 0;
    }
    if ((c & 0xF8) == 0xF0) {
        if (!trail(i + 1) || !trail(i + 2) || !trail(i + 3)) return 0;
        char32_t cp = (char32_t(c & 0x07) << 18) | (char32_t(byte(i + 1) & 0x3F) << 12) |
                      (char32_t(byte(i + 2) & 0x3F) << 6) | (byte(i + 3) & 0x3F);
        return cp >= 0x10000 && cp <= 0x10FFFF ? 4 : 0;
    }
    return 0;
}

// Appends the bytes of a run of byte pieces, each byte of an invalid sequence as U+FFFD.
void append_bytes_lossy(std::string& out, std::string_view bytes) {
    for (size_t i = 0; i < bytes.size();) {
        size_t n = valid_char_length(bytes, i);
        if (n == 0) {
            out += kReplacement;
            ++i;
        } else {
            out.append(bytes, i, n);
            i += n;
        }
    }
}

// "<0x41>" -> 0x41; -1 for anything else.
int byte_piece_value(const std::string& piece) {
    if (piece.size() != 6 || piece.compare(0, 3, "<0x") != 0 || piece[5] != '>') return -1;
    auto hex = [](char h) {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        if (h >= 'a' && h <= 'f') return h - 'a' + 10;
        return -1;
    };
    int hi = hex(piece[3]), lo = hex(piece[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

// The tokenizer classes whose slow implementation this follows.
bool supported_class(std::string cls) {
    if (cls.size() > 4 && cls.compare(cls.size() - 4, 4, "Fast") == 0) cls.resize(cls.size() - 4);
    return cls.empty() || cls == "LlamaTokenizer" || cls == "LLaMATokenizer" ||
           cls == "GemmaTokenizer";
}

}  // namespace

SentencePieceModel::SentencePieceModel(const std::string& model_path, const json& config,
                                       const std::string& config_source)
    : path_(model_path) {
    const std::string hint =
        "tokenizer.model must be a SentencePiece model as written by spm_train or shipped "
        "with the model; or provide a tokenizer.json instead";
    std::string bytes = read_text_file(model_path);
    SentencePieceFacts facts = read_sentencepiece_facts(bytes, model_path);
    if (facts.has_denormalizer)
        throw_invalid(model_path +
                          ": the SentencePiece model has a denormalizer (denormalizer_spec), "
                          "which llmtune does not apply",
                      "provide a tokenizer.json for this model");
    model_type_ = facts.model_type;
    strip_leading_space_ = facts.add_dummy_prefix || facts.remove_extra_whitespaces;
    remove_extra_whitespaces_ = facts.remove_extra_whitespaces;

    sp_ = SpmProcessor::load(bytes, model_path);
    piece_count_ = sp_->piece_size();
    if (piece_count_ <= 0 || piece_count_ > kMaxTokenId)
        throw_invalid(model_path + ": the SentencePiece model has " + std::to_string(piece_count_) +
                          " pieces",
                      hint);
    pieces_.resize(static_cast<size_t>(piece_count_));
    kinds_.assign(pieces_.size(), Kind::normal);
    byte_values_.assign(pieces_.size(), 0);
    for (int id = 0; id < piece_count_; ++id) {
        SpmProcessor::PieceType type = sp_->piece(id, pieces_[id]);
        if (type == SpmProcessor::PieceType::byte) {
            int b = byte_piece_value(pieces_[id]);
            if (b < 0)
                throw_invalid(model_path + ": byte piece " + std::to_string(id) + " is \"" +
                                  pieces_[id] + "\", not <0xNN>",
                              hint);
            kinds_[id] = Kind::byte;
            byte_values_[id] = static_cast<uint8_t>(b);
        } else if (type == SpmProcessor::PieceType::control) {
            kinds_[id] = Kind::control;
        } else if (type == SpmProcessor::PieceType::unknown) {
            kinds_[id] = Kind::unknown;
        }
    }
    read_config(config, config_source);
}

SentencePieceModel::~SentencePieceModel() = default;

void SentencePieceModel::read_config(const json& config, const std::string& config_source) {
    // The tokens split out of the text before SentencePiece runs, as tokenizer.json's
    // added_tokens, for AddedVocabulary.
    struct Flags {
        bool lstrip = false, rstrip = false, single_word = false;
    };
    std::unordered_map<int64_t, Flags> flags;
    std::unordered_map<std::string, int64_t> added_by_content;
    auto resolve = [&](const std::string& content) -> std::optional<int64_t> {
        auto it = added_by_content.find(content);
        if (it != added_by_content.end()) return it->second;
        int id = sp_->piece_to_id(content);
        if (id >= 0 && id < piece_count_ && pieces_[id] == content) return id;
        return std::nullopt;
    };
    auto mark_special = [&](int64_t id) {
        if (kinds_[id] == Kind::normal || kinds_[id] == Kind::added)
            kinds_[id] = Kind::added_special;
    };
    auto model_id = [&](int id) -> std::optional<int64_t> {
        if (id < 0 || id >= piece_count_) return std::nullopt;
        return id;
    };
    std::optional<int64_t> unk = model_id(sp_->unk_id()), pad = model_id(sp_->pad_id());
    bos_id_ = model_id(sp_->bos_id());
    eos_id_ = model_id(sp_->eos_id());

    json none;
    JsonPath cfg(config.is_null() ? none : config,
                 config_source.empty() ? "tokenizer_config.json" : config_source, "");
    if (!cfg.is_null()) {
        cfg.expect_object();
        std::string cls = cfg.string_or("tokenizer_class", "");
        if (!supported_class(cls))
            cfg.at("tokenizer_class")
                .fail(
                    "llmtune reads a SentencePiece tokenizer.model as LlamaTokenizer or "
                    "GemmaTokenizer does; this class may tokenize differently",
                    "provide the model's tokenizer.json (transformers' save_pretrained "
                    "writes one)");
        if (cfg.has("legacy") && !cfg.at("legacy").boolean())
            cfg.at("legacy").fail(
                "transformers' non-legacy LlamaTokenizer (no \"▁\" after special tokens) is "
                "not implemented for tokenizer.model",
                "provide the model's tokenizer.json (transformers' save_pretrained writes one)");

        JsonPath decoder = cfg.get("added_tokens_decoder");
        if (!decoder.is_null()) {
            decoder.expect_object();
            for (auto it = decoder.value().begin(); it != decoder.value().end(); ++it) {
                JsonPath t = decoder.at(it.key().c_str());
                t.expect_object();
                const std::string& key = it.key();
                int64_t id = -1;
                if (!key.empty() && key.size() <= 9 &&
                    key.find_first_not_of("0123456789") == std::string::npos)
                    id = std::stoll(key);
                if (id < 0 || id >= kMaxTokenId) t.fail("expected an id from 0 to 2^26 - 1 as key");
                std::string content = t.string("content");
                if (content.empty()) t.at("content").fail("the token is empty");
                if (find_invalid_utf8(content) != std::string::npos)
                    t.at("content").fail("the token is not valid UTF-8");
                if (id >= static_cast<int64_t>(pieces_.size())) {
                    pieces_.resize(static_cast<size_t>(id) + 1);
                    kinds_.resize(pieces_.size(), Kind::none);
                    byte_values_.resize(pieces_.size(), 0);
                }
                pieces_[id] = content;
                kinds_[id] = t.boolean_or("special", false) ? Kind::added_special : Kind::added;
                flags[id] = Flags{t.boolean_or("lstrip", false), t.boolean_or("rstrip", false),
                                  t.boolean_or("single_word", false)};
                added_by_content[content] = id;
            }
        }

        // A named special token replaces the model's own; one not in the vocabulary is none.
        auto named = [&](const char* key, std::optional<int64_t>& id) {
            if (!cfg.value().contains(key)) return;
            auto content = config_token(cfg.get(key));
            id = content ? resolve(*content) : std::nullopt;
        };
        named("bos_token", bos_id_);
        named("eos_token", eos_id_);
        named("unk_token", unk);
        named("pad_token", pad);
        JsonPath extra = cfg.get("additional_special_tokens");
        if (!extra.is_null()) {
            extra.expect_array();
            for (size_t i = 0; i < extra.size(); ++i) {
                auto content = config_token(extra.at(i));
                auto id = content ? resolve(*content) : std::nullopt;
                if (!id)
                    extra.at(i).fail("not a piece of " + path_ + " nor in added_tokens_decoder");
                mark_special(*id);
            }
        }
        add_bos_ = cfg.boolean_or("add_bos_token", true);
        add_eos_ = cfg.boolean_or("add_eos_token", false);
        clean_up_tokenization_spaces_ = cfg.boolean_or("clean_up_tokenization_spaces", false);
        if (add_bos_ && !bos_id_)
            cfg.get("bos_token").fail("add_bos_token is true but there is no BOS token");
        if (add_eos_ && !eos_id_)
            cfg.get("eos_token").fail("add_eos_token is true but there is no EOS token");
    } else if (!bos_id_) {
        throw_invalid(path_ + ": the SentencePiece model has no BOS piece (bos_id is -1)",
                      "add a tokenizer_config.json with \"add_bos_token\": false");
    }
    for (auto id : {bos_id_, eos_id_, unk, pad})
        if (id) mark_special(*id);

    json added = json::array();
    for (size_t id = 0; id < pieces_.size(); ++id) {
        Kind k = kinds_[id];
        if (k != Kind::control && k != Kind::unknown && k != Kind::added &&
            k != Kind::added_special)
            continue;
        Flags f = flags.count(id) ? flags[id] : Flags{};
        added.push_back({{"id", id},
                         {"content", pieces_[id]},
                         {"special", k != Kind::added},
                         {"normalized", false},
                         {"lstrip", f.lstrip},
                         {"rstrip", f.rstrip},
                         {"single_word", f.single_word}});
    }
    added_ = std::make_unique<AddedVocabulary>(JsonPath(added, path_, "special tokens"), nullptr);
    vocab_size_ = static_cast<int64_t>(pieces_.size());
}

std::vector<int64_t> SentencePieceModel::encode(const std::string& text,
                                                bool add_special_tokens) const {
    std::vector<int64_t> ids;
    ids.reserve(text.size() / 3 + 4);
    if (add_special_tokens && add_bos_) ids.push_back(*bos_id_);
    std::vector<AddedSplit> splits;
    added_->split(text, /*normalized=*/false, splits);
    std::vector<int> piece_ids;
    std::string_view view(text);
    for (const AddedSplit& s : splits) {
        if (s.token_id >= 0) {
            ids.push_back(s.token_id);
            continue;
        }
        if (s.end == s.start) continue;
        piece_ids.clear();
        sp_->encode(view.substr(s.start, s.end - s.start), piece_ids);
        ids.insert(ids.end(), piece_ids.begin(), piece_ids.end());
    }
    if (add_special_tokens && add_eos_) ids.push_back(*eos_id_);
    return ids;
}

std::string SentencePieceModel::decode(const std::vector<int64_t>& ids, bool skip_special_tokens,
                                       bool lossy) const {
    // libsentencepiece's Decode: while nothing has been written, a leading "▁" is dropped from
    // the next piece (from every piece, when extra whitespace is removed); byte pieces gather
    // into runs.
    std::string out, run;
    bool is_bos_ws = true, bos_ws_seen = false;
    auto flush = [&] {
        if (run.empty()) return;
        if (lossy)
            append_bytes_lossy(out, run);
        else
            out += run;
        run.clear();
    };
    for (int64_t id : ids) {
        if (id < 0)
            throw_invalid("token id " + std::to_string(id) + " is negative",
                          "token ids run from 0 to the vocabulary size minus one");
        if (id >= vocab_size_ || kinds_[id] == Kind::none) continue;  // as Hugging Face skips
        Kind k = kinds_[id];
        if (k == Kind::byte) {
            run += static_cast<char>(byte_values_[id]);
            continue;
        }
        flush();
        if (bos_ws_seen || !out.empty()) is_bos_ws = false;
        bos_ws_seen = false;
        if (k == Kind::control || k == Kind::unknown || k == Kind::added_special ||
            k == Kind::added) {
            if (k != Kind::added && skip_special_tokens) continue;
            out += pieces_[id];
            continue;
        }
        std::string_view piece = pieces_[id];
        if (is_bos_ws && strip_leading_space_ && piece.substr(0, 3) == kSpaceSymbol) {
            piece.remove_prefix(3);
            bos_ws_seen = !remove_extra_whitespaces_;
        }
        for (size_t i = 0; i < piece.size();) {
            if (piece.compare(i, 3, kSpaceSymbol) == 0) {
                out += ' ';
                i += 3;
            } else {
                out += piece[i++];
            }
        }
    }
    flush();
    return out;
}

const std::string* SentencePieceModel::token_string(int64_t id) const {
    if (id < 0 || id >= vocab_size_ || kinds_[id] == Kind::none) return nullptr;
    return &pieces_[id];
}

std::optional<int64_t> SentencePieceModel::token_to_id(const std::string& token) const {
    if (auto id = added_->find_content(token)) return id;
    int id = sp_->piece_to_id(token);
    if (id >= 0 && id < piece_count_ && pieces_[id] == token) return id;
    return std::nullopt;
}

bool SentencePieceModel::is_special(int64_t id) const {
    if (id < 0 || id >= vocab_size_) return false;
    Kind k = kinds_[id];
    return k == Kind::control || k == Kind::unknown || k == Kind::added_special;
}

}  // namespace llmtune::tokenizer
