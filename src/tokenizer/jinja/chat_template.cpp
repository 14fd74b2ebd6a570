#include "tokenizer/jinja/chat_template.h"

#include <filesystem>

#include "common/error.h"
#include "tokenizer/jinja/template.h"

namespace fs = std::filesystem;

namespace llmtune::tokenizer {

namespace {

struct ConfigPaths {
    fs::path dir;
    fs::path config;  // may not exist
};

ConfigPaths locate(const std::string& path) {
    fs::path p(path);
    std::error_code ec;
    if (fs::is_directory(p, ec)) return {p, p / "tokenizer_config.json"};
    if (!fs::exists(p, ec))
        throw Error(ErrorKind::not_found, path + ": no such file or directory",
                    "pass a model directory or its tokenizer_config.json");
    return {p.parent_path(), p};
}

std::string token_content(const ordered_json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_object() && v.contains("content") && v["content"].is_string())
        return v["content"].get<std::string>();
    return "";
}

}  // namespace

ChatTemplate::ChatTemplate(std::string source)
    : tmpl_(std::make_shared<const jinja::Template>(source)) {}

const std::string& ChatTemplate::source() const {
    return tmpl_->source();
}

ChatTemplate ChatTemplate::from_tokenizer_config(const std::string& model_dir_or_config_path,
                                                 const std::string& name) {
    ConfigPaths where = locate(model_dir_or_config_path);
    std::error_code ec;
    std::string want = name.empty() ? "default" : name;
    if (want == "default" && fs::is_regular_file(where.dir / "chat_template.jinja", ec))
        return ChatTemplate(read_text_file((where.dir / "chat_template.jinja").string()));
    fs::path extra = where.dir / "additional_chat_templates" / (want + ".jinja");
    if (want != "default" && fs::is_regular_file(extra, ec))
        return ChatTemplate(read_text_file(extra.string()));
    if (!fs::is_regular_file(where.config, ec))
        throw Error(ErrorKind::not_found,
                    where.config.string() + " does not exist, and there is no chat_template.jinja",
                    "the model has no chat template; pass one explicitly");
    ordered_json cfg = read_ordered_json_file(where.config.string());
    auto ct = cfg.is_object() ? cfg.find("chat_template") : cfg.end();
    if (ct != cfg.end() && ct->is_string()) {
        if (want != "default")
            throw Error(
                ErrorKind::not_found,
                where.config.string() + " has a single chat template, none named '" + want + "'",
                "omit the template name to use the default");
        return ChatTemplate(ct->get<std::string>());
    }
    if (ct != cfg.end() && ct->is_array()) {
        std::string names;
        for (const auto& t : *ct) {
            if (!t.is_object() || !t.contains("name") || !t["name"].is_string()) continue;
            std::string n = t["name"].get<std::string>();
            if (n == want && t.contains("template") && t["template"].is_string())
                return ChatTemplate(t["template"].get<std::string>());
            names += (names.empty() ? "" : ", ") + n;
        }
        throw Error(ErrorKind::not_found,
                    where.config.string() + " has no chat template named '" + want + "'",
                    "available templates: " + (names.empty() ? std::string("none") : names));
    }
    throw Error(ErrorKind::not_found, where.config.string() + " has no chat_template",
                "the tokenizer ships no chat template; pass one explicitly");
}

std::string ChatTemplate::render(const ChatTemplateInputs& in) const {
    if (!in.messages.is_array())
        throw_invalid("chat messages must be a JSON array of {\"role\", \"content\"} objects");
    if (!in.tools.is_null() && !in.tools.is_array())
        throw_invalid("chat tools must be a JSON array of tool schemas");
    if (!in.extra.is_null() && !in.extra.is_object())
        throw_invalid("extra chat template variables must be a JSON object");
    ordered_json ctx = ordered_json::object();
    ctx["messages"] = in.messages;
    ctx["add_generation_prompt"] = in.add_generation_prompt;
    // Unset tokens stay undefined, as transformers leaves out special tokens that are None.
    if (!in.bos_token.empty()) ctx["bos_token"] = in.bos_token;
    if (!in.eos_token.empty()) ctx["eos_token"] = in.eos_token;
    if (!in.tools.is_null()) ctx["tools"] = in.tools;
    if (in.extra.is_object())
        for (auto it = in.extra.begin(); it != in.extra.end(); ++it)
            ctx[it.key()] = it.value();
    return tmpl_->render(ctx);
}

void load_special_tokens(const std::string& model_dir_or_config_path, ChatTemplateInputs& in) {
    ConfigPaths where = locate(model_dir_or_config_path);
    ordered_json cfg = read_ordered_json_file(where.config.string());
    if (!cfg.is_object()) throw_invalid(where.config.string() + ": not a JSON object");
    auto get = [&](const char* key) {
        auto it = cfg.find(key);
        return it == cfg.end() ? std::string() : token_content(*it);
    };
    if (std::string b = get("bos_token"); !b.empty()) in.bos_token = b;
    if (std::string e = get("eos_token"); !e.empty()) in.eos_token = e;
    if (!in.extra.is_object()) in.extra = ordered_json::object();
    for (const char* key : {"unk_token", "pad_token", "sep_token", "cls_token", "mask_token"})
        if (std::string t = get(key); !t.empty()) in.extra[key] = t;
    auto add = cfg.find("additional_special_tokens");
    if (add != cfg.end() && add->is_array()) {
        ordered_json list = ordered_json::array();
        for (const auto& t : *add)
            if (std::string c = token_content(t); !c.empty()) list.push_back(c);
        in.extra["additional_special_tokens"] = list;
    }
}

}  // namespace llmtune::tokenizer
