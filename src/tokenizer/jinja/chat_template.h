// Chat templates: a model's tokenizer_config.json `chat_template` rendered as transformers'
// apply_chat_template renders it (Jinja2 with trim_blocks and lstrip_blocks, tojson without
// key sorting or ASCII escaping, raise_exception and strftime_now defined).
//
//   auto tmpl = ChatTemplate::from_tokenizer_config(model_dir);
//   ChatTemplateInputs in;
//   in.messages = messages_json;            // [{"role": "user", "content": "hi"}, ...]
//   in.add_generation_prompt = true;
//   load_special_tokens(model_dir, in);     // bos_token, eos_token, pad_token, ...
//   std::string prompt = tmpl.render(in);
#pragma once

#include <memory>
#include <string>

#include "common/json_file.h"

namespace llmtune::tokenizer {

namespace jinja {
class Template;
}

struct ChatTemplateInputs {
    // The conversation; messages are passed to the template as they are (content may be a
    // string or a list of parts; tool_calls, reasoning_content, ... are the template's
    // business). ordered_json keeps key order, which `tojson` output depends on; a
    // llmtune::json converts implicitly.
    ordered_json messages = ordered_json::array();
    bool add_generation_prompt = false;
    ordered_json tools;  // a list of tool schemas; null leaves `tools` undefined
    std::string bos_token, eos_token;
    // Other variables: special tokens (pad_token, unk_token, ...) and template kwargs such as
    // enable_thinking or date_string. They override the fields above on a name clash.
    ordered_json extra = ordered_json::object();
};

class ChatTemplate {
  public:
    // `model_dir_or_config_path` is a model directory or its tokenizer_config.json. The
    // template comes from chat_template.jinja beside the config when present (newer
    // transformers save it there), else from the config's `chat_template`: a string, or a
    // list of {name, template} where `name` picks one ("default" when empty). A named
    // template may also be additional_chat_templates/<name>.jinja. Throws not_found when
    // there is none, invalid_input when it does not parse.
    static ChatTemplate from_tokenizer_config(const std::string& model_dir_or_config_path,
                                              const std::string& name = "");

    explicit ChatTemplate(std::string source);  // parses once; invalid_input on errors

    // Renders the prompt. A template's raise_exception(msg) becomes invalid_input carrying
    // msg; runaway templates stop at RenderLimits' bounds with invalid_input.
    std::string render(const ChatTemplateInputs& in) const;

    const std::string& source() const;

  private:
    std::shared_ptr<const jinja::Template> tmpl_;
};

// Fills in.bos_token, in.eos_token and, in in.extra, the other special tokens of a
// tokenizer_config.json (unk_token, pad_token, sep_token, cls_token, mask_token,
// additional_special_tokens), as transformers passes them to templates. Tokens written as
// AddedToken objects ({"content": ...}) are reduced to their content; missing ones are left
// as they are.
void load_special_tokens(const std::string& model_dir_or_config_path, ChatTemplateInputs& in);

}  // namespace llmtune::tokenizer
