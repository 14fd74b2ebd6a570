// llmtune chat-template: render a conversation with the model's chat template.
#include <cstdio>

#include "cli/cli_common.h"
#include "common/error.h"
#include "common/json_file.h"
#include "tokenizer/jinja/chat_template.h"

namespace llmtune::cli {

void register_chat_template(CLI::App& app) {
    struct Args {
        std::string model, messages, name;
        bool add_generation_prompt = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = app.add_subcommand(
        "chat-template", "Print the prompt the model's chat template renders for a conversation");
    cmd->add_option("--model", a->model, "a model directory (or its tokenizer_config.json)")
        ->required();
    cmd->add_option(
           "--messages", a->messages,
           "a JSON file: a list of messages, or an object with \"messages\" (and \"tools\")")
        ->required();
    cmd->add_flag("--add-generation-prompt", a->add_generation_prompt,
                  "end with the assistant turn's opening");
    cmd->add_option("--template-name", a->name, "pick a named template (e.g. tool_use)");
    cmd->callback([a] {
        ordered_json doc = read_ordered_json_file(a->messages);
        tokenizer::ChatTemplateInputs in;
        if (doc.is_array()) {
            in.messages = doc;
        } else if (doc.is_object() && doc.contains("messages") && doc["messages"].is_array()) {
            in.messages = doc["messages"];
            if (doc.contains("tools")) in.tools = doc["tools"];
        } else {
            throw_invalid(a->messages + ": expected a list of messages or {\"messages\": [...]}",
                          "e.g. [{\"role\": \"user\", \"content\": \"Hi\"}]");
        }
        in.add_generation_prompt = a->add_generation_prompt;
        auto tmpl = tokenizer::ChatTemplate::from_tokenizer_config(a->model, a->name);
        tokenizer::load_special_tokens(a->model, in);
        std::fputs(tmpl.render(in).c_str(), stdout);
    });
}

}  // namespace llmtune::cli
