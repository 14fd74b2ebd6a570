#include "model/gguf_export.h"

#include <cctype>
#include <cmath>
#include <functional>
#include <filesystem>
#include <map>
#include <optional>

#include "common/error.h"
#include "model/lora.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_files.h"

namespace fs = std::filesystem;

namespace llmtune::model {

namespace {

// gguf token types (llama.cpp's llama_token_type).
enum TokenType : int32_t {
    kNormal = 1,
    kUnknown = 2,
    kControl = 3,
    kUserDefined = 4,
    kUnused = 5,
    kByte = 6,
};

// llama.cpp's llama_ftype for a file whose 2-D weights are `type`.
uint32_t file_type_of(GgmlType type) {
    switch (type) {
        case GgmlType::f32:
            return 0;  // ALL_F32
        case GgmlType::f16:
            return 1;  // MOSTLY_F16
        case GgmlType::q8_0:
            return 7;  // MOSTLY_Q8_0
        case GgmlType::bf16:
            return 32;  // MOSTLY_BF16
    }
    return 0;
}

const char* gguf_arch_name(Architecture arch) {
    switch (arch) {
        case Architecture::llama:
        case Architecture::mistral:
            return "llama";
        case Architecture::qwen2:
            return "qwen2";
        case Architecture::qwen3:
            return "qwen3";
    }
    return "?";
}

// The pre-tokenizer regexes of the byte-level BPE families llama.cpp names (after JSON
// decoding). llama.cpp applies its own copy of each family's regex, chosen by name.
struct KnownPreTokenizer {
    const char* name;
    const char* regex;
    const char* models;
};
const KnownPreTokenizer kKnownPreTokenizers[] = {
    {"qwen2",
     R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
     "Qwen2, Qwen2.5, Qwen3"},
    {"llama-bpe",
     R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
     "Llama 3, 3.1, 3.2"},
};

std::string known_pre_list() {
    std::string s;
    for (const auto& k : kKnownPreTokenizers) s += std::string(k.name) + " (" + k.models + "), ";
    return s + "gpt2 (GPT-2's ByteLevel pre-tokenizer)";
}

bool is_byte_level(const json& p, bool use_regex) {
    return p.is_object() && p.value("type", "") == "ByteLevel" &&
           p.value("use_regex", true) == use_regex;
}

// A special token's content in tokenizer_config.json: a string or {"content": ...}.
std::string config_token(const json& cfg, const char* key) {
    auto it = cfg.find(key);
    if (it == cfg.end()) return "";
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
        return (*it)["content"].get<std::string>();
    return "";
}

// convert_hf_to_gguf.py's rule for added tokens not marked special that are control tokens
// in practice ("<|im_start|>"-like spellings and a few known ones).
bool looks_special(const std::string& t) {
    auto ends = [&](const std::string& suffix) {
        return t.size() >= suffix.size() && t.compare(t.size() - suffix.size(), suffix.size(),
                                                       suffix) == 0;
    };
    if (t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]") return true;
    if (t.rfind("<|", 0) == 0 && ends("|>")) return true;
    if (t.rfind("<\xef\xbd\x9c", 0) == 0 && ends("\xef\xbd\x9c>")) return true;  // "<｜...｜>"
    if (t.rfind("<unused", 0) == 0 && ends(">")) return true;
    return false;
}

bool is_byte_token(const std::string& t) {
    return t.size() == 6 && t.rfind("<0x", 0) == 0 && t[5] == '>' && std::isxdigit(t[3]) &&
           std::isxdigit(t[4]);
}

struct Vocab {
    std::vector<std::string> tokens;
    std::vector<int32_t> types;
    std::vector<std::string> merges;  // "a b"
};

std::string merge_text(const json& m, const std::string& source, size_t i) {
    if (m.is_string()) return m.get<std::string>();
    if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string())
        return m[0].get<std::string>() + " " + m[1].get<std::string>();
    throw_invalid(source + ": model.merges[" + std::to_string(i) +
                  "] is neither \"a b\" nor [\"a\", \"b\"]");
}

// Tokens and types for ids [0, n_vocab), from the model vocabulary and the added tokens.
Vocab read_vocab(const json& tj, const std::string& source, int64_t n_vocab, bool spm) {
    Vocab v;
    v.tokens.assign(n_vocab, "");
    v.types.assign(n_vocab, kUnused);
    std::vector<bool> set(n_vocab, false);
    auto place = [&](int64_t id, const std::string& token, int32_t type, const std::string& where) {
        if (id < 0 || id >= n_vocab)
            throw_invalid(source + ": " + where + " has id " + std::to_string(id) +
                              ", outside the model's vocab_size " + std::to_string(n_vocab),
                          "the tokenizer does not belong to this model");
        v.tokens[id] = token;
        v.types[id] = type;
        set[id] = true;
    };
    const json& model = tj["model"];
    if (!model.contains("vocab") || !model["vocab"].is_object())
        throw_invalid(source + ": model.vocab must be an object");
    const std::string unk = model.value("unk_token", json()).is_string()
                                ? model["unk_token"].get<std::string>()
                                : std::string();
    for (const auto& [token, id] : model["vocab"].items()) {
        if (!id.is_number_integer()) throw_invalid(source + ": model.vocab['" + token + "']");
        int32_t type = kNormal;
        if (spm && is_byte_token(token)) type = kByte;
        if (!unk.empty() && token == unk) type = kUnknown;
        place(id.get<int64_t>(), token, type, "model.vocab['" + token + "']");
    }
    if (tj.contains("added_tokens") && tj["added_tokens"].is_array()) {
        for (const auto& t : tj["added_tokens"]) {
            if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() ||
                !t.contains("content") || !t["content"].is_string())
                throw_invalid(source + ": added_tokens entries need an integer id and a content");
            const std::string content = t["content"].get<std::string>();
            const bool special = t.value("special", false);
            int32_t type = special || looks_special(content) ? kControl : kUserDefined;
            if (!unk.empty() && content == unk) type = kUnknown;
            place(t["id"].get<int64_t>(), content, type, "added token '" + content + "'");
        }
    }
    for (int64_t i = 0; i < n_vocab; ++i)
        if (!set[i]) v.tokens[i] = "[PAD" + std::to_string(i) + "]";  // as convert_hf_to_gguf
    if (model.contains("merges") && model["merges"].is_array()) {
        const json& merges = model["merges"];
        v.merges.reserve(merges.size());
        for (size_t i = 0; i < merges.size(); ++i) v.merges.push_back(merge_text(merges[i], source, i));
    }
    return v;
}

// SentencePiece-style scores for a byte-fallback BPE: llama.cpp's "llama" tokenizer merges the
// adjacent pair whose joined token scores highest, so a token made by merge k scores -k and
// BPE's merge order is kept. Tokens no merge makes score 0.
std::vector<float> spm_scores(const Vocab& v) {
    std::map<std::string, int64_t> id_of;
    for (size_t i = 0; i < v.tokens.size(); ++i) id_of.emplace(v.tokens[i], i);
    std::vector<float> scores(v.tokens.size(), 0.0f);
    std::vector<bool> made(v.tokens.size(), false);
    for (size_t k = 0; k < v.merges.size(); ++k) {
        const std::string& m = v.merges[k];
        const size_t sp = m.find(' ');
        if (sp == std::string::npos) continue;
        auto it = id_of.find(m.substr(0, sp) + m.substr(sp + 1));
        if (it == id_of.end() || made[it->second]) continue;
        made[it->second] = true;
        scores[it->second] = -static_cast<float>(k);
    }
    return scores;
}

// Whether a SentencePiece-converted tokenizer.json prepends "▁" to the text (llama.cpp's
// tokenizer.ggml.add_space_prefix): a Prepend normalizer or a Metaspace pre-tokenizer that
// prepends.
bool spm_adds_space_prefix(const json& tj) {
    std::function<bool(const json&)> walk = [&](const json& n) -> bool {
        if (!n.is_object()) return false;
        const std::string type = n.value("type", "");
        if (type == "Prepend") return n.value("prepend", "") == "\xe2\x96\x81";
        if (type == "Metaspace")
            return n.value("prepend_scheme", n.value("add_prefix_space", true) ? "always" : "never") !=
                   "never";
        for (const char* key : {"normalizers", "pretokenizers"})
            if (n.contains(key) && n[key].is_array())
                for (const auto& c : n[key])
                    if (walk(c)) return true;
        return false;
    };
    return walk(tj.value("normalizer", json())) || walk(tj.value("pre_tokenizer", json()));
}

std::optional<std::string> read_chat_template(const std::string& model_dir, const json& cfg,
                                              std::vector<std::pair<std::string, std::string>>& named) {
    const fs::path jinja = fs::path(model_dir) / "chat_template.jinja";
    if (fs::exists(jinja)) return read_text_file(jinja.string());
    auto it = cfg.find("chat_template");
    if (it == cfg.end()) return std::nullopt;
    if (it->is_string()) return it->get<std::string>();
    std::optional<std::string> def;
    if (it->is_array())
        for (const auto& t : *it) {
            if (!t.is_object() || !t.contains("name") || !t["name"].is_string() ||
                !t.contains("template") || !t["template"].is_string())
                continue;
            const std::string name = t["name"].get<std::string>();
            if (name == "default")
                def = t["template"].get<std::string>();
            else
                named.emplace_back(name, t["template"].get<std::string>());
        }
    return def;
}

void add_tokenizer(GgufWriter& w, const std::string& model_dir, const ModelConfig& cfg,
                   GgufExportSummary& summary) {
    auto files = tokenizer::find_tokenizer_files(model_dir);
    if (files.tokenizer_json.empty())
        throw Error(ErrorKind::not_found,
                    model_dir + ": has tokenizer.model but no tokenizer.json; GGUF export reads "
                                "the vocabulary and merges from tokenizer.json",
                    "save the tokenizer with transformers' save_pretrained (it writes "
                    "tokenizer.json) or convert with llama.cpp's convert_hf_to_gguf.py");
    const std::string& source = files.tokenizer_json;
    const json tj = read_json_file(source);
    const json tcfg = files.tokenizer_config_json.empty()
                          ? json::object()
                          : read_json_file(files.tokenizer_config_json);
    if (!tj.is_object() || !tj.contains("model") || !tj["model"].is_object())
        throw_invalid(source + ": has no \"model\" object");
    const std::string model_type = tj["model"].value("type", "BPE");
    if (model_type != "BPE")
        throw_invalid(source + ": GGUF export supports BPE tokenizers, this one is " + model_type,
                      "convert this model with llama.cpp's convert_hf_to_gguf.py");
    const bool spm = tj["model"].value("byte_fallback", false);

    Vocab v = read_vocab(tj, source, cfg.vocab_size, spm);
    if (spm) {
        summary.tokenizer_model = "llama";
        w.add_string("tokenizer.ggml.model", "llama");
        w.add_string_array("tokenizer.ggml.tokens", v.tokens);
        w.add_float32_array("tokenizer.ggml.scores", spm_scores(v));
        w.add_int32_array("tokenizer.ggml.token_type", v.types);
        w.add_bool("tokenizer.ggml.add_space_prefix", spm_adds_space_prefix(tj));
    } else {
        summary.tokenizer_model = "gpt2";
        summary.pre_tokenizer = gguf_pre_tokenizer_name(tj, source);
        w.add_string("tokenizer.ggml.model", "gpt2");
        w.add_string("tokenizer.ggml.pre", summary.pre_tokenizer);
        w.add_string_array("tokenizer.ggml.tokens", v.tokens);
        w.add_int32_array("tokenizer.ggml.token_type", v.types);
        w.add_string_array("tokenizer.ggml.merges", v.merges);
    }

    // Special tokens: tokenizer_config.json's names, else config.json's ids.
    auto tok = tokenizer::Tokenizer::load(source);
    auto id_of = [&](const char* key) -> std::optional<int64_t> {
        const std::string content = config_token(tcfg, key);
        return content.empty() ? std::nullopt : tok->token_to_id(content);
    };
    std::optional<int64_t> bos = id_of("bos_token"), eos = id_of("eos_token"),
                           unk = id_of("unk_token"), pad = id_of("pad_token");
    if (!bos) bos = cfg.bos_token_id;
    if (!eos && !cfg.eos_token_ids.empty()) eos = cfg.eos_token_ids.front();
    if (!pad) pad = cfg.pad_token_id;
    auto put_id = [&](const char* key, const std::optional<int64_t>& id) {
        if (!id) return;
        if (*id < 0 || *id >= cfg.vocab_size)
            throw_invalid(std::string(key) + " would be " + std::to_string(*id) +
                              ", outside the model's vocab_size " + std::to_string(cfg.vocab_size),
                          "check the special token ids in config.json and tokenizer_config.json");
        w.add_uint32(key, static_cast<uint32_t>(*id));
    };
    put_id("tokenizer.ggml.bos_token_id", bos);
    put_id("tokenizer.ggml.eos_token_id", eos);
    put_id("tokenizer.ggml.unknown_token_id", unk);
    put_id("tokenizer.ggml.padding_token_id", pad);

    // Whether encoding adds BOS/EOS, observed on the tokenizer itself so that llama.cpp's
    // llama_tokenize(add_special = true) gives what llmtune's encode(add_special_tokens) gives.
    const auto with = tok->encode("a", true), without = tok->encode("a", false);
    const bool add_bos = with.size() > without.size() && bos && with.front() == *bos;
    const bool add_eos = with.size() > without.size() && eos && with.back() == *eos;
    if (with.size() > without.size() + (add_bos ? 1 : 0) + (add_eos ? 1 : 0))
        throw_invalid(source + ": the post-processor adds tokens other than BOS and EOS",
                      "llama.cpp can only add BOS and EOS; convert with convert_hf_to_gguf.py");
    w.add_bool("tokenizer.ggml.add_bos_token", add_bos);
    w.add_bool("tokenizer.ggml.add_eos_token", add_eos);

    std::vector<std::pair<std::string, std::string>> named;
    auto tmpl = read_chat_template(model_dir, tcfg, named);
    if (tmpl) w.add_string("tokenizer.chat_template", *tmpl);
    for (const auto& [name, text] : named) w.add_string("tokenizer.chat_template." + name, text);
}

// llama3 RoPE scaling as llama.cpp takes it: per-frequency divisors in rope_freqs.weight.
torch::Tensor llama3_rope_factors(const ModelConfig& cfg) {
    const RopeScaling& s = cfg.rope_scaling;
    const double low_wavelen = s.original_max_position_embeddings / s.low_freq_factor;
    const double high_wavelen = s.original_max_position_embeddings / s.high_freq_factor;
    const int64_t half = cfg.head_dim / 2;
    auto out = torch::empty({half}, torch::kFloat32);
    auto* f = out.data_ptr<float>();
    for (int64_t i = 0; i < half; ++i) {
        const double freq =
            1.0 / std::pow(cfg.rope_theta, static_cast<double>(2 * i) / cfg.head_dim);
        const double wavelen = 2 * M_PI / freq;
        if (wavelen < high_wavelen) {
            f[i] = 1.0f;
        } else if (wavelen > low_wavelen) {
            f[i] = static_cast<float>(s.factor);
        } else {
            const double smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) /
                                  (s.high_freq_factor - s.low_freq_factor);
            f[i] = static_cast<float>(1.0 / ((1 - smooth) / s.factor + smooth));
        }
    }
    return out;
}

void add_hyperparameters(GgufWriter& w, const ModelConfig& cfg, const std::string& arch,
                         GgufExportSummary& summary) {
    auto u32 = [&](const std::string& key, int64_t v) {
        w.add_uint32(arch + "." + key, static_cast<uint32_t>(v));
    };
    u32("vocab_size", cfg.vocab_size);
    u32("context_length", cfg.max_position_embeddings);
    u32("embedding_length", cfg.hidden_size);
    u32("block_count", cfg.num_hidden_layers);
    u32("feed_forward_length", cfg.intermediate_size);
    u32("attention.head_count", cfg.num_attention_heads);
    u32("attention.head_count_kv", cfg.num_key_value_heads);
    u32("attention.key_length", cfg.head_dim);
    u32("attention.value_length", cfg.head_dim);
    u32("rope.dimension_count", cfg.head_dim);
    w.add_float32(arch + ".attention.layer_norm_rms_epsilon", static_cast<float>(cfg.rms_norm_eps));
    w.add_float32(arch + ".rope.freq_base", static_cast<float>(cfg.rope_theta));
    const std::string& type = cfg.rope_scaling.type;
    if (type == "linear") {
        w.add_string(arch + ".rope.scaling.type", "linear");
        w.add_float32(arch + ".rope.scaling.factor", static_cast<float>(cfg.rope_scaling.factor));
    } else if (type == "dynamic") {
        throw_invalid("rope_scaling type 'dynamic' has no llama.cpp equivalent",
                      "export --format hf instead, or remove rope_scaling from config.json");
    } else if (type == "llama3" && arch != "llama") {
        throw_invalid("rope_scaling type 'llama3' is only representable for the llama "
                      "architecture in GGUF");
    }
    if (cfg.sliding_window > 0 && cfg.sliding_window < cfg.max_position_embeddings)
        summary.warnings.push_back(
            "config.json's sliding_window " + std::to_string(cfg.sliding_window) +
            " is not stored: llama.cpp's " + arch + " attends to the whole context, so outputs "
            "differ past " + std::to_string(cfg.sliding_window) + " tokens");
}

}  // namespace

std::string gguf_pre_tokenizer_name(const json& tj, const std::string& source) {
    const json pre = tj.value("pre_tokenizer", json());
    if (is_byte_level(pre, true)) return "gpt2";
    if (pre.is_object() && pre.value("type", "") == "Sequence" && pre.contains("pretokenizers") &&
        pre["pretokenizers"].is_array() && pre["pretokenizers"].size() == 2) {
        const json& split = pre["pretokenizers"][0];
        const json& bl = pre["pretokenizers"][1];
        const bool ok = split.is_object() && split.value("type", "") == "Split" &&
                        split.value("behavior", "") == "Isolated" && !split.value("invert", false) &&
                        split.contains("pattern") && split["pattern"].is_object() &&
                        split["pattern"].contains("Regex") && split["pattern"]["Regex"].is_string() &&
                        is_byte_level(bl, false);
        if (ok) {
            const std::string regex = split["pattern"]["Regex"].get<std::string>();
            for (const auto& k : kKnownPreTokenizers)
                if (regex == k.regex) return k.name;
        }
    }
    std::string shown = pre.dump();
    if (shown.size() > 300) shown = shown.substr(0, 300) + "...";
    throw_invalid(source + ": the pre-tokenizer is not one llama.cpp knows by name: " + shown,
                  "llmtune maps " + known_pre_list() +
                      "; for another tokenizer, export --format hf and convert with llama.cpp's "
                      "convert_hf_to_gguf.py");
}

torch::Tensor permute_rope_rows(const torch::Tensor& w, int64_t n_head) {
    LLMTUNE_ASSERT(w.size(0) % (2 * n_head) == 0, "rows split into heads of even size");
    auto shape = w.sizes().vec();
    std::vector<int64_t> split = {n_head, 2, w.size(0) / n_head / 2};
    split.insert(split.end(), shape.begin() + 1, shape.end());
    // (n_head, 2, hd/2, ...) -> (n_head, hd/2, 2, ...): row (k, j) of a head moves to 2j + k.
    return w.reshape(split).transpose(1, 2).contiguous().reshape(shape);
}

GgufExportSummary export_gguf(CausalLM& model, const std::string& model_dir,
                              const std::string& out_path, const GgufExportOptions& options) {
    torch::NoGradGuard no_grad;
    if (has_lora(model)) merge_lora(model);
    const ModelConfig& cfg = model->config();
    GgufExportSummary summary;
    summary.architecture = gguf_arch_name(cfg.arch);
    const std::string& arch = summary.architecture;

    GgufWriter w;
    w.add_string("general.architecture", arch);
    std::string name = options.name;
    if (name.empty()) name = fs::absolute(model_dir).lexically_normal().filename().string();
    if (name.empty())  // "dir/" normalizes to a path with an empty last part
        name = fs::absolute(model_dir).lexically_normal().parent_path().filename().string();
    w.add_string("general.name", name);
    w.add_uint32("general.file_type", file_type_of(options.type));
    w.add_uint32("general.quantization_version", 2);  // ggml's GGML_QNT_VERSION
    add_hyperparameters(w, cfg, arch, summary);
    add_tokenizer(w, model_dir, cfg, summary);

    // 1-D tensors stay F32; 2-D weights take the requested type where it fits.
    auto add = [&](const std::string& gguf_name, const torch::Tensor& t) {
        GgmlType type = t.dim() == 1 ? GgmlType::f32 : options.type;
        if (type == GgmlType::q8_0 && t.size(-1) % kQ8_0BlockSize != 0) {
            type = GgmlType::f16;
            summary.warnings.push_back(gguf_name + " stored as f16: its rows of " +
                                       std::to_string(t.size(-1)) +
                                       " values are not whole Q8_0 blocks of 32");
        }
        w.add_tensor(gguf_name, t.detach(), type);
        ++summary.tensors;
    };
    const bool permute = arch == "llama";
    auto& stack = model->model;
    add("token_embd.weight", stack->embed_tokens->weight);
    if (cfg.rope_scaling.type == "llama3") add("rope_freqs.weight", llama3_rope_factors(cfg));
    for (int64_t i = 0; i < cfg.num_hidden_layers; ++i) {
        auto layer = stack->layers[i]->as<DecoderLayerImpl>();
        auto& at = layer->self_attn;
        const std::string p = "blk." + std::to_string(i) + ".";
        add(p + "attn_norm.weight", layer->input_layernorm->weight);
        auto qk = [&](const std::string& n, const Linear& lin, int64_t heads) {
            add(p + n + ".weight", permute ? permute_rope_rows(lin->weight, heads) : lin->weight);
            if (lin->bias.defined())
                add(p + n + ".bias", permute ? permute_rope_rows(lin->bias, heads) : lin->bias);
        };
        qk("attn_q", at->q_proj, cfg.num_attention_heads);
        qk("attn_k", at->k_proj, cfg.num_key_value_heads);
        add(p + "attn_v.weight", at->v_proj->weight);
        if (at->v_proj->bias.defined()) add(p + "attn_v.bias", at->v_proj->bias);
        add(p + "attn_output.weight", at->o_proj->weight);
        if (at->o_proj->bias.defined()) add(p + "attn_output.bias", at->o_proj->bias);
        if (cfg.qk_norm) {
            add(p + "attn_q_norm.weight", at->q_norm->weight);
            add(p + "attn_k_norm.weight", at->k_norm->weight);
        }
        add(p + "ffn_norm.weight", layer->post_attention_layernorm->weight);
        add(p + "ffn_gate.weight", layer->mlp->gate_proj->weight);
        add(p + "ffn_up.weight", layer->mlp->up_proj->weight);
        add(p + "ffn_down.weight", layer->mlp->down_proj->weight);
    }
    add("output_norm.weight", stack->norm->weight);
    if (!cfg.tie_word_embeddings) add("output.weight", model->lm_head->weight);

    w.write(out_path, options.progress);
    summary.bytes = fs::file_size(out_path);
    return summary;
}

}  // namespace llmtune::model
