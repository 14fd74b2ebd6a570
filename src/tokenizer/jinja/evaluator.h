// The interpreter: renders a parsed template against a scope of variables.
//
// Semantics are Jinja2's as transformers runs it (ImmutableSandboxedEnvironment): variables
// set in a for loop's body are local to that iteration; macros see the scope they were
// defined in; undefined variables print as "" and are falsy (attribute access on them is
// undefined too, as in @huggingface/jinja); lists and dicts cannot be mutated.
//
// A hostile template cannot hang or exhaust memory: the limits below bound loop iterations,
// evaluation steps, macro recursion and the size of every string produced, and exceeding one
// is an invalid_input error that names the limit and the template line.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/value.h"

namespace llmtune::tokenizer::jinja {

struct RenderLimits {
    size_t max_string_bytes = 64u << 20;       // any one string, the output included
    uint64_t max_loop_iterations = 1000000;    // all loops of one render together
    uint64_t max_steps = 50000000;             // expressions and statements evaluated
    uint64_t max_total_bytes = 1024ull << 20;  // bytes of all strings built by one render
    int max_call_depth = 100;                  // nested macro calls
};

struct Scope {
    std::unordered_map<std::string, Value> vars;
    std::shared_ptr<Scope> parent;

    explicit Scope(std::shared_ptr<Scope> p = nullptr) : parent(std::move(p)) {}
    const Value* find(const std::string& name) const;
    Scope* owner_of(const std::string& name);
};
using ScopePtr = std::shared_ptr<Scope>;

class Evaluator {
  public:
    Evaluator(const std::string& source, const RenderLimits& limits)
        : src_(source), limits_(limits) {}

    std::string render(const NodeList& program, const ScopePtr& scope);

    // For builtins.
    Value call(const Value& fn, CallArgs args);
    void note_string(size_t bytes);    // a string of this size was built
    void note_iterations(uint64_t n);  // n more loop iterations
    const RenderLimits& limits() const { return limits_; }

  private:
    enum class Flow { normal, break_loop, continue_loop };

    Flow exec(const NodeList& nodes, const ScopePtr& scope, std::string& out);
    Flow exec_node(const Node& n, const ScopePtr& scope, std::string& out);
    Flow exec_for(const Node& n, const ScopePtr& scope, std::string& out);
    void exec_set(const Node& target, Value v, const ScopePtr& scope);
    Value make_macro(const Node& n, const NodeList& body, const std::vector<Arg>& params,
                     const ScopePtr& closure, const std::string& name);
    void append(std::string& out, const std::string& s);

    Value eval(const Node& n, const ScopePtr& scope);
    Value eval_inner(const Node& n, const ScopePtr& scope);
    Value eval_binary(const Node& n, const ScopePtr& scope);
    Value eval_compare(const Node& n, const ScopePtr& scope);
    Value eval_call(const Node& n, const ScopePtr& scope);
    Value eval_filter(const Node& n, const ScopePtr& scope, const Value* block_operand);
    CallArgs eval_args(const std::vector<Arg>& args, const ScopePtr& scope);
    void step();
    [[noreturn]] void fail_at(const Node& n, const std::string& what);

    const std::string& src_;
    RenderLimits limits_;
    uint64_t steps_ = 0, iterations_ = 0, total_bytes_ = 0;
    int call_depth_ = 0;
    std::vector<ScopePtr> closures_;  // scopes captured by macros, cleared after a render
};

}  // namespace llmtune::tokenizer::jinja
