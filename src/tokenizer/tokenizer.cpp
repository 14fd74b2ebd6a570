#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <filesystem>

#include "common/error.h"
#include "tokenizer/added_vocabulary.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/decoder.h"
#include "tokenizer/json_path.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/post_processor.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/sentencepiece_model.h"
#include "tokenizer/tokenizer_files.h"
#include "tokenizer/unicode_text.h"

namespace llmtune::tokenizer {

namespace {

// tokenizer_config.json writes a special token as a string or as {"content": ...}.
std::optional<std::string> config_token(const JsonPath& cfg, const char* key) {
    JsonPath v = cfg.get(key);
    if (v.is_null()) return std::nullopt;
    if (v.value().is_string()) return v.string();
    if (v.value().is_object()) return v.at("content").string();
    v.fail("expected a token string or {\"content\": ...}");
}

// The tokenizer classes whose transformers implementation rebuilds the post-processor from
// add_bos_token / add_eos_token (LlamaTokenizerFast.update_post_processor and kin).
bool rebuilds_post_processor(std::string cls) {
    if (cls.size() > 4 && cls.compare(cls.size() - 4, 4, "Fast") == 0) cls.resize(cls.size() - 4);
    return cls == "LlamaTokenizer" || cls == "CodeLlamaTokenizer" || cls == "GemmaTokenizer";
}

}  // namespace

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;

std::shared_ptr<Tokenizer> Tokenizer::load(const std::string& path) {
    TokenizerFiles files = find_tokenizer_files(path);
    json cfg;
    // tokenizer.json wins when both are there, as in transformers' fast tokenizers.
    std::string sentencepiece_model;
    if (files.tokenizer_json.empty())
        sentencepiece_model = files.sentencepiece_model;
    else if (std::filesystem::path(path).extension() == ".model")
        sentencepiece_model = path;
    if (!sentencepiece_model.empty()) {
        if (!files.tokenizer_config_json.empty()) cfg = read_json_file(files.tokenizer_config_json);
        std::shared_ptr<Tokenizer> t(new Tokenizer());
        t->sentencepiece_ = std::make_unique<SentencePieceModel>(sentencepiece_model, cfg,
                                                                 files.tokenizer_config_json);
        t->vocab_size_ = t->sentencepiece_->vocab_size();
        t->bos_id_ = t->sentencepiece_->bos_id();
        t->eos_id_ = t->sentencepiece_->eos_id();
        t->clean_up_tokenization_spaces_ = t->sentencepiece_->clean_up_tokenization_spaces();
        return t;
    }
    json tj = read_json_file(files.tokenizer_json);
    if (!files.tokenizer_config_json.empty()) cfg = read_json_file(files.tokenizer_config_json);
    return from_json(tj, files.tokenizer_json, cfg, files.tokenizer_config_json);
}

std::shared_ptr<Tokenizer> Tokenizer::from_json(const json& tokenizer_json,
                                                const std::string& source, const json& config,
                                                const std::string& config_source) {
    std::shared_ptr<Tokenizer> t(new Tokenizer());
    JsonPath root(tokenizer_json, source, "");
    root.expect_object();

    JsonPath model = root.at("model");
    model.expect_object();
    std::string type = model.string_or("type", "BPE");
    if (type != "BPE") model.at("type").unsupported("model", type);

    t->normalizer_ = make_normalizer(root.get("normalizer"));
    t->pre_tokenizer_ = make_pre_tokenizer(root.get("pre_tokenizer"));
    t->model_ = std::make_unique<BpeModel>(model);
    t->added_ = std::make_unique<AddedVocabulary>(root.get("added_tokens"), t->normalizer_.get());
    t->post_processor_ = make_post_processor(root.get("post_processor"));
    t->decoder_ = make_decoder(root.get("decoder"));

    int64_t max_id = t->model_->max_id();
    for (const auto& a : t->added_->tokens())
        max_id = std::max(max_id, a.id);
    t->vocab_size_ = max_id + 1;

    if (!config.is_null()) {
        JsonPath cfg(config, config_source.empty() ? "tokenizer_config.json" : config_source, "");
        cfg.expect_object();
        auto resolve = [&](const char* key) -> std::optional<int64_t> {
            auto token = config_token(cfg, key);
            return token ? t->token_to_id(*token) : std::nullopt;
        };
        t->bos_id_ = resolve("bos_token");
        t->eos_id_ = resolve("eos_token");
        t->clean_up_tokenization_spaces_ = cfg.boolean_or("clean_up_tokenization_spaces", false);
        std::string cls = cfg.string_or("tokenizer_class", "");
        if (rebuilds_post_processor(cls)) {
            bool add_bos = cfg.boolean_or("add_bos_token", true);
            bool add_eos = cfg.boolean_or("add_eos_token", false);
            std::vector<int64_t> prefix, suffix;
            if (add_bos) {
                if (!t->bos_id_)
                    cfg.get("bos_token")
                        .fail(
                            "add_bos_token is true but bos_token is not a "
                            "token of this tokenizer");
                prefix.push_back(*t->bos_id_);
            }
            if (add_eos) {
                if (!t->eos_id_)
                    cfg.get("eos_token")
                        .fail(
                            "add_eos_token is true but eos_token is not a "
                            "token of this tokenizer");
                suffix.push_back(*t->eos_id_);
            }
            t->post_processor_ = make_template_post_processor(prefix, suffix);
        }
    }
    return t;
}

std::vector<int64_t> Tokenizer::encode(const std::string& text, bool add_special_tokens) const {
    size_t bad = find_invalid_utf8(text);
    if (bad != std::string::npos)
        throw_invalid("the text is not valid UTF-8 (byte " + std::to_string(bad) + " of " +
                          std::to_string(text.size()) + ")",
                      "tokenizers take Unicode text; decode or clean the input first");
    if (sentencepiece_) return sentencepiece_->encode(text, add_special_tokens);
    std::vector<int64_t> ids;
    ids.reserve(text.size() / 3 + 4);
    std::vector<AddedSplit> raw_splits, normalized_splits;
    std::vector<PreToken> pieces;
    std::vector<int32_t> word_ids;
    std::string segment;

    added_->split(text, /*normalized=*/false, raw_splits);
    for (const AddedSplit& raw : raw_splits) {
        if (raw.token_id >= 0) {
            ids.push_back(raw.token_id);
            continue;
        }
        if (raw.end == raw.start) continue;
        segment.assign(text, raw.start, raw.end - raw.start);
        if (normalizer_) normalizer_->normalize(segment);
        normalized_splits.clear();
        added_->split(segment, /*normalized=*/true, normalized_splits);
        for (const AddedSplit& part : normalized_splits) {
            if (part.token_id >= 0) {
                ids.push_back(part.token_id);
                continue;
            }
            if (part.end == part.start) continue;
            pieces.clear();
            PreToken whole;
            whole.text.assign(segment, part.start, part.end - part.start);
            whole.at_start = raw.start == 0 && part.start == 0;
            pieces.push_back(std::move(whole));
            if (pre_tokenizer_) pre_tokenizer_->pre_tokenize(pieces);
            for (const PreToken& p : pieces) {
                word_ids.clear();
                model_->tokenize(p.text, word_ids);
                ids.insert(ids.end(), word_ids.begin(), word_ids.end());
            }
        }
    }
    if (post_processor_) post_processor_->process(ids, add_special_tokens);
    return ids;
}

const std::string* Tokenizer::token_string(int64_t id) const {
    if (id < 0)
        throw_invalid("token id " + std::to_string(id) + " is negative",
                      "token ids run from 0 to the vocabulary size minus one");
    if (sentencepiece_) return sentencepiece_->token_string(id);
    if (const AddedToken* a = added_->find_id(id)) return &a->decoded;
    return model_->id_to_token(id);
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const {
    return decode_impl(ids, skip_special_tokens, false);
}

std::string Tokenizer::decode_text(const std::vector<int64_t>& ids,
                                   bool skip_special_tokens) const {
    return utf8_lossy(decode_impl(ids, skip_special_tokens, true));
}

std::string Tokenizer::decode_impl(const std::vector<int64_t>& ids, bool skip_special_tokens,
                                   bool lossy) const {
    if (sentencepiece_) return sentencepiece_->decode(ids, skip_special_tokens, lossy);
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (int64_t id : ids) {
        const std::string* s = token_string(id);
        if (!s) continue;
        if (skip_special_tokens && is_special(id)) continue;
        tokens.push_back(*s);
    }
    std::string out;
    if (decoder_) {
        decoder_->decode_chain(tokens, lossy);
        for (const auto& t : tokens)
            out += t;
    } else {
        for (size_t i = 0; i < tokens.size(); ++i) {
            if (i) out += ' ';
            out += tokens[i];
        }
    }
    return out;
}

std::string Tokenizer::clean_up_tokenization(const std::string& text) {
    // Applied in this order, each to the whole text, as transformers does.
    static const std::pair<const char*, const char*> kRules[] = {
        {" .", "."},     {" ?", "?"},   {" !", "!"},   {" ,", ","},     {" ' ", "'"},
        {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
    std::string out = text;
    for (const auto& [from, to] : kRules) {
        std::string next;
        next.reserve(out.size());
        size_t pos = 0, from_len = std::char_traits<char>::length(from);
        while (true) {
            size_t hit = out.find(from, pos);
            if (hit == std::string::npos) break;
            next.append(out, pos, hit - pos);
            next += to;
            pos = hit + from_len;
        }
        next.append(out, pos, std::string::npos);
        out.swap(next);
    }
    return out;
}

std::vector<std::string> Tokenizer::pieces(const std::vector<int64_t>& ids) const {
    std::vector<std::string> out;
    out.reserve(ids.size());
    for (int64_t id : ids) {
        const std::string* s = token_string(id);
        out.push_back(s ? *s : std::string());
    }
    return out;
}

std::optional<int64_t> Tokenizer::token_to_id(const std::string& token) const {
    if (sentencepiece_) return sentencepiece_->token_to_id(token);
    if (auto id = added_->find_content(token)) return id;
    if (auto id = model_->token_to_id(token)) return *id;
    return std::nullopt;
}

bool Tokenizer::is_special(int64_t id) const {
    if (sentencepiece_) return sentencepiece_->is_special(id);
    const AddedToken* a = added_->find_id(id);
    return a != nullptr && a->special;
}

}  // namespace llmtune::tokenizer
