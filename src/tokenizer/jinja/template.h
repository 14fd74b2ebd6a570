// A parsed Jinja template, rendered with the settings transformers uses for chat templates.
//
//   Template t("{% for m in messages %}{{ m.content }}{% endfor %}");
//   std::string text = t.render(ordered_json{{"messages", ...}});
//
// Parsing happens once, in the constructor; a syntax error or an unsupported construct
// throws invalid_input naming the line and column. render() is const and may run
// concurrently on one Template from several threads.
#pragma once

#include <memory>
#include <string>

#include "common/json_file.h"
#include "tokenizer/jinja/evaluator.h"

namespace llmtune::tokenizer::jinja {

class Template {
  public:
    explicit Template(const std::string& source);

    // `context` is a JSON object whose members become the template's variables (their key
    // order is kept, so tojson prints objects in input order). Globals range, namespace,
    // dict, raise_exception and strftime_now are defined unless the context overrides them.
    std::string render(const ordered_json& context, const RenderLimits& limits = {}) const;

    const std::string& source() const { return source_; }  // newline-normalized

  private:
    std::string source_;
    std::shared_ptr<const NodeList> program_;
};

}  // namespace llmtune::tokenizer::jinja
