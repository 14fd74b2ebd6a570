// Fuzzes the Jinja parser and evaluator: any template must parse and render, or raise
// llmtune::Error (syntax errors, raise_exception, limits). Tight limits keep each run short.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.h"
#include "tokenizer/jinja/template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace llmtune;
    static const ordered_json context = ordered_json::parse(R"({
      "messages": [{"role": "system", "content": "Be brief."},
                   {"role": "user", "content": "Hi {{ there }}"},
                   {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": {"x": 1}}}]}],
      "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>"})");
    tokenizer::jinja::RenderLimits limits;
    limits.max_string_bytes = 1 << 20;
    limits.max_total_bytes = 8 << 20;
    limits.max_loop_iterations = 10000;
    limits.max_steps = 200000;
    try {
        tokenizer::jinja::Template t(std::string(reinterpret_cast<const char*>(data), size));
        (void)t.render(context, limits);
    } catch (const Error&) {
    }
    return 0;
}
