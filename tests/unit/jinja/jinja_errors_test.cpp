// Errors: syntax errors name the line, column and snippet; unsupported constructs are
// rejected when the template is loaded; raise_exception() becomes invalid_input carrying the
// template's message; hostile templates stop at the render limits instead of hanging,
// exhausting memory or crashing.
#include <gtest/gtest.h>

#include <chrono>
#include <random>

#include "common/error.h"
#include "support/test_support.h"
#include "tokenizer/jinja/chat_template.h"
#include "tokenizer/jinja/template.h"

namespace llmtune::tokenizer::jinja {
namespace {

// The error thrown by parsing `src`, or a test failure if none is.
Error parse_error(const std::string& src) {
    try {
        Template t(src);
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "expected a syntax error for: " << src;
    return Error(ErrorKind::internal, "");
}

Error render_error(const std::string& src, const ordered_json& ctx = ordered_json::object(),
                   const RenderLimits& limits = {}) {
    Template t(src);
    try {
        t.render(ctx, limits);
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "expected a render error for: " << src;
    return Error(ErrorKind::internal, "");
}

bool has(const Error& e, const std::string& s) {
    return e.message().find(s) != std::string::npos;
}

TEST(JinjaErrors, SyntaxErrorNamesLineColumnAndSnippet) {
    Error e = parse_error("first line\n{% if x %}ok{% endif %}\n  {{ foo } }}");
    EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
    EXPECT_TRUE(has(e, "line 3, column 10")) << e.message();
    EXPECT_TRUE(has(e, "near:   {{ foo } }}")) << e.message();
    EXPECT_FALSE(e.hint().empty());
}

TEST(JinjaErrors, UnclosedBlocksAndTags) {
    Error e = parse_error("{% for m in messages %}\n{{ m }}");
    EXPECT_TRUE(has(e, "endfor")) << e.message();
    EXPECT_TRUE(has(e, "line 2")) << e.message();
    e = parse_error("abc {{ name ");
    EXPECT_TRUE(has(e, "line 1, column 5")) << e.message();
    EXPECT_TRUE(has(e, "'}}'")) << e.message();
    e = parse_error("{# never closed");
    EXPECT_TRUE(has(e, "comment")) << e.message();
    e = parse_error("{{ 'unterminated }}");
    EXPECT_TRUE(has(e, "unterminated string")) << e.message();
}

TEST(JinjaErrors, UnsupportedConstructsFailAtLoadNamingThem) {
    Error e = parse_error("line\n{{ x | frobnicate }}");
    EXPECT_TRUE(has(e, "filter 'frobnicate'")) << e.message();
    EXPECT_TRUE(has(e, "line 2")) << e.message();
    e = parse_error("{% include 'other.jinja' %}");
    EXPECT_TRUE(has(e, "{% include %}")) << e.message();
    e = parse_error("{% if x is frob %}{% endif %}");
    EXPECT_TRUE(has(e, "test 'frob'")) << e.message();
    e = parse_error("{% for x in y recursive %}{% endfor %}");
    EXPECT_TRUE(has(e, "recursive")) << e.message();
    e = parse_error("{% break %}");
    EXPECT_TRUE(has(e, "outside of a for loop")) << e.message();
    e = parse_error("{% frobnicate %}");
    EXPECT_TRUE(has(e, "unknown tag 'frobnicate'")) << e.message();
}

TEST(JinjaErrors, UnsupportedMethodsFailWhenCalled) {
    Error e = render_error("{{ '{}'.format(1) }}");
    EXPECT_TRUE(has(e, "str.format() is not supported")) << e.message();
    e = render_error("{% set l = [1] %}{{ l.append(2) }}");
    EXPECT_TRUE(has(e, "list.append() is unsafe")) << e.message();
    e = render_error("{{ undefined_function(1) }}");
    EXPECT_TRUE(has(e, "'undefined_function' is undefined")) << e.message();
}

TEST(JinjaErrors, RaiseExceptionCarriesTheTemplatesMessage) {
    Error e = render_error(
        "{% if messages[0].role != 'user' %}\n"
        "  {{ raise_exception('Conversation must start with a user turn') }}\n"
        "{% endif %}",
        {{"messages", ordered_json::array({{{"role", "assistant"}}})}});
    EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
    EXPECT_TRUE(has(e, "Conversation must start with a user turn")) << e.message();
    EXPECT_TRUE(has(e, "line 2")) << e.message();
}

TEST(JinjaErrors, RuntimeTypeErrorsNameTheLine) {
    Error e = render_error("ok\n{{ 'a' + 1 }}");
    EXPECT_TRUE(has(e, "line 2")) << e.message();
    EXPECT_TRUE(has(e, "can only concatenate str")) << e.message();
    e = render_error("{{ 1 // 0 }}");
    EXPECT_TRUE(has(e, "by zero")) << e.message();
    e = render_error("{% for x in 3 %}{% endfor %}");
    EXPECT_TRUE(has(e, "not iterable")) << e.message();
}

TEST(JinjaErrors, RunawayLoopsStopAtTheIterationLimit) {
    auto start = std::chrono::steady_clock::now();
    Error e = render_error(
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}");
    EXPECT_TRUE(has(e, "loop iterations")) << e.message();
    RenderLimits small;
    small.max_loop_iterations = 50;
    e = render_error("{% for i in range(100) %}{{ i }}{% endfor %}", ordered_json::object(), small);
    EXPECT_TRUE(has(e, "more than 50 loop iterations")) << e.message();
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
}

TEST(JinjaErrors, RecursionAndOutputAreBounded) {
    Error e = render_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
    EXPECT_TRUE(has(e, "nested more than")) << e.message();
    e = render_error(
        "{% set ns = namespace(s='xy') %}{% for i in range(64) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}");
    EXPECT_TRUE(has(e, "bytes")) << e.message();
    e = render_error("{{ 'x' * 100000000000 }}");
    EXPECT_TRUE(has(e, "bytes")) << e.message();
    e = render_error("{{ range(1000000000) | length }}");
    EXPECT_TRUE(has(e, "range too big")) << e.message();
    e = render_error("{{ 2 ** 64 }}");
    EXPECT_TRUE(has(e, "overflow")) << e.message();
}

TEST(JinjaErrors, DeepNestingIsASyntaxErrorNotACrash) {
    std::string deep = "{{ " + std::string(20000, '(') + "1" + std::string(20000, ')') + " }}";
    EXPECT_TRUE(has(parse_error(deep), "nested more than")) << "deep parentheses";
    std::string blocks;
    for (int i = 0; i < 5000; ++i)
        blocks += "{% if true %}";
    EXPECT_TRUE(has(parse_error(blocks), "nested more than")) << "deep blocks";
    ordered_json deep_json = "leaf";
    for (int i = 0; i < 2000; ++i)
        deep_json = ordered_json::array({deep_json});
    Template t("{{ x | length }}");
    try {
        t.render({{"x", deep_json}});
        ADD_FAILURE() << "deeply nested input accepted";
    } catch (const Error& e) {
        EXPECT_TRUE(has(e, "nested")) << e.message();
    }
}

// Mutated real templates: every one either renders or fails with llmtune::Error; nothing
// else escapes and nothing crashes.
TEST(JinjaErrors, MutatedTemplatesNeverCrash) {
    std::string base = test::read_file(std::string(LLMTUNE_SOURCE_DIR) +
                                       "/tests/unit/jinja/templates/llama31_tools.jinja");
    ASSERT_FALSE(base.empty());
    const char* pieces[] = {"{%",    "%}",   "{{",       "}}",  "{#",     "#}", "(",    ")",
                            "[",     "]",    "'",        "\"",  "|",      "-",  "~",    "**",
                            "\\",    "\xff", "\xe2\x82", "for", "endfor", "if", "else", "set",
                            "macro", "loop", "range(9)", ".",   ",",      ":"};
    std::mt19937 rng(1234);
    ordered_json ctx = {{"messages", ordered_json::array({{{"role", "user"}, {"content", "hi"}}})},
                        {"tools", ordered_json::array({{{"name", "t"}}})},
                        {"bos_token", "<s>"}};
    RenderLimits limits;
    limits.max_loop_iterations = 10000;
    limits.max_steps = 200000;
    int rendered = 0, rejected = 0;
    for (int i = 0; i < 1500; ++i) {
        std::string s = base;
        int edits = 1 + static_cast<int>(rng() % 4);
        for (int k = 0; k < edits; ++k) {
            size_t pos = rng() % (s.size() + 1);
            switch (rng() % 3) {
                case 0:
                    s.insert(pos, pieces[rng() % (sizeof pieces / sizeof *pieces)]);
                    break;
                case 1:
                    s.erase(pos, rng() % 8);
                    break;
                default:
                    s.insert(pos, s.substr(rng() % s.size(), rng() % 40));
            }
        }
        try {
            Template t(s);
            t.render(ctx, limits);
            ++rendered;
        } catch (const Error& e) {
            ++rejected;
            EXPECT_FALSE(e.message().empty());
        }
    }
    EXPECT_GT(rendered + rejected, 0);
    std::printf("[mutations] %d rendered, %d rejected with an error\n", rendered, rejected);
}

}  // namespace
}  // namespace llmtune::tokenizer::jinja
