#include "tokenizer/jinja/template.h"

#include "common/error.h"
#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/lexer.h"
#include "tokenizer/jinja/parser.h"

namespace llmtune::tokenizer::jinja {

Template::Template(const std::string& source)
    : source_(normalize_newlines(source)),
      program_(std::make_shared<const NodeList>(parse_template(source_))) {}

std::string Template::render(const ordered_json& context, const RenderLimits& limits) const {
    if (!context.is_object()) throw_invalid("template context must be a JSON object");
    auto globals = std::make_shared<Scope>();
    install_globals(*globals);
    auto root = std::make_shared<Scope>(globals);
    try {
        for (auto it = context.begin(); it != context.end(); ++it)
            root->vars[it.key()] = from_json(it.value());
    } catch (const EvalError& e) {
        throw_invalid(std::string("chat template input: ") + e.what());
    }
    Evaluator ev(source_, limits);
    return ev.render(*program_, root);
}

}  // namespace llmtune::tokenizer::jinja
