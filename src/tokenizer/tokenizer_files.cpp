#include "tokenizer/tokenizer_files.h"

#include <filesystem>

#include "common/error.h"
#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;

namespace llmtune::tokenizer {

TokenizerFiles find_tokenizer_files(const std::string& path) {
    TokenizerFiles f;
    if (!fs::exists(path))
        throw Error(ErrorKind::not_found, path + ": no such file or directory",
                    "pass a tokenizer.json file or a model directory holding one");
    fs::path dir = fs::is_directory(path) ? fs::path(path) : fs::path(path).parent_path();
    if (dir.empty()) dir = ".";
    f.dir = dir.string();
    auto pick = [&](const char* name) {
        fs::path p = dir / name;
        return fs::exists(p) ? p.string() : std::string();
    };
    f.tokenizer_json = fs::is_directory(path) ? pick("tokenizer.json") : path;
    f.tokenizer_config_json = pick("tokenizer_config.json");
    f.sentencepiece_model = pick("tokenizer.model");
    f.special_tokens_map = pick("special_tokens_map.json");
    if (f.tokenizer_json.empty() && f.sentencepiece_model.empty())
        throw Error(ErrorKind::not_found, path + ": no tokenizer.json or tokenizer.model",
                    "pass a tokenizer.json file or a Hugging Face model directory");
    return f;
}

std::optional<int64_t> token_id(const json& tj, const std::string& content) {
    if (tj.contains("added_tokens") && tj["added_tokens"].is_array())
        for (const auto& t : tj["added_tokens"])
            if (t.is_object() && t.value("content", "") == content && t.contains("id") &&
                t["id"].is_number_integer())
                return t["id"].get<int64_t>();
    if (tj.contains("model") && tj["model"].is_object()) {
        const json& vocab = tj["model"].value("vocab", json());
        if (vocab.is_object()) {
            auto it = vocab.find(content);
            if (it != vocab.end() && it->is_number_integer()) return it->get<int64_t>();
        } else if (vocab.is_array()) {  // Unigram: [[piece, score], ...]
            for (size_t i = 0; i < vocab.size(); ++i)
                if (vocab[i].is_array() && !vocab[i].empty() && vocab[i][0] == content)
                    return static_cast<int64_t>(i);
        }
    }
    return std::nullopt;
}

namespace {
// tokenizer_config.json writes special tokens as a string or as {"content": ...}.
std::string special_content(const json& cfg, const char* key) {
    auto it = cfg.find(key);
    if (it == cfg.end() || it->is_null()) return "";
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
        return (*it)["content"].get<std::string>();
    return "";
}
}  // namespace

TokenizerSummary summarize_tokenizer(const TokenizerFiles& files) {
    TokenizerSummary s;
    if (files.tokenizer_json.empty()) {
        // SentencePiece only: ask the loaded tokenizer (libsentencepiece) for the facts.
        auto tok = Tokenizer::load(files.dir);
        s.model_type = "SentencePiece";
        s.vocab_extent = tok->vocab_size();
    } else {
        json tj = read_json_file(files.tokenizer_json);
        if (!tj.is_object() || !tj.contains("model") || !tj["model"].is_object())
            throw_invalid(files.tokenizer_json + ": not a tokenizer.json (no \"model\" object)");
        s.model_type = tj["model"].value("type", "");
        int64_t max_id = -1;
        const json& vocab = tj["model"].value("vocab", json());
        if (vocab.is_object()) {
            for (auto it = vocab.begin(); it != vocab.end(); ++it)
                if (it->is_number_integer()) max_id = std::max(max_id, it->get<int64_t>());
        } else if (vocab.is_array()) {
            max_id = static_cast<int64_t>(vocab.size()) - 1;
        }
        if (tj.contains("added_tokens") && tj["added_tokens"].is_array())
            for (const auto& t : tj["added_tokens"])
                if (t.is_object() && t.contains("id") && t["id"].is_number_integer())
                    max_id = std::max(max_id, t["id"].get<int64_t>());
        if (max_id < 0) throw_invalid(files.tokenizer_json + ": the vocabulary is empty");
        s.vocab_extent = max_id + 1;
    }

    if (!files.tokenizer_config_json.empty()) {
        json cfg = read_json_file(files.tokenizer_config_json);
        if (cfg.is_object()) {
            s.bos_token = special_content(cfg, "bos_token");
            s.eos_token = special_content(cfg, "eos_token");
            s.pad_token = special_content(cfg, "pad_token");
            auto ct = cfg.find("chat_template");
            if (ct != cfg.end() && ct->is_string()) {
                s.chat_template = ct->get<std::string>();
            } else if (ct != cfg.end() && ct->is_array()) {
                for (const auto& named : *ct)
                    if (named.is_object() && named.value("name", "") == "default" &&
                        named.contains("template") && named["template"].is_string())
                        s.chat_template = named["template"].get<std::string>();
            }
        }
    }
    // Ids through the tokenizer, so tokenizer.json and tokenizer.model answer alike.
    auto tok = Tokenizer::load(files.tokenizer_json.empty() ? files.dir : files.tokenizer_json);
    if (!s.bos_token.empty()) s.bos_id = tok->token_to_id(s.bos_token);
    if (!s.eos_token.empty()) s.eos_id = tok->token_to_id(s.eos_token);
    if (!s.pad_token.empty()) s.pad_id = tok->token_to_id(s.pad_token);
    return s;
}

}  // namespace llmtune::tokenizer
