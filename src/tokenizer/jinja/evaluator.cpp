#include "tokenizer/jinja/evaluator.h"

#include "common/error.h"
#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/lexer.h"
#include "tokenizer/jinja/operators.h"

namespace llmtune::tokenizer::jinja {

namespace {

bool uses_name(const NodeList& nodes, const std::string& name);

bool uses_name(const Node* n, const std::string& name) {
    if (!n) return false;
    if (n->kind == NodeKind::name && n->name == name) return true;
    for (const auto& c : n->children)
        if (uses_name(c.get(), name)) return true;
    for (const auto& a : n->args)
        if (uses_name(a.value.get(), name)) return true;
    // A nested macro or call block has its own varargs/kwargs/caller.
    if (n->kind == NodeKind::macro) return false;
    return uses_name(n->body, name) || uses_name(n->else_body, name);
}

bool uses_name(const NodeList& nodes, const std::string& name) {
    for (const auto& n : nodes)
        if (uses_name(n.get(), name)) return true;
    return false;
}

const char* kRaiseHint =
    "the chat template rejected these inputs; check the messages (roles, order, "
    "content types) against what the model's template expects";

}  // namespace

const Value* Scope::find(const std::string& name) const {
    for (const Scope* s = this; s; s = s->parent.get()) {
        auto it = s->vars.find(name);
        if (it != s->vars.end()) return &it->second;
    }
    return nullptr;
}

Scope* Scope::owner_of(const std::string& name) {
    for (Scope* s = this; s; s = s->parent.get())
        if (s->vars.count(name)) return s;
    return nullptr;
}

std::string Evaluator::render(const NodeList& program, const ScopePtr& scope) {
    std::string out;
    struct Cleanup {
        std::vector<ScopePtr>& closures;
        // Macros hold their defining scope, which holds them: clear those scopes so the
        // reference cycles are freed when the render ends, normally or by an error.
        ~Cleanup() {
            for (auto& s : closures)
                s->vars.clear();
            closures.clear();
        }
    } cleanup{closures_};
    exec(program, scope, out);
    return out;
}

void Evaluator::step() {
    if (++steps_ > limits_.max_steps)
        throw EvalError("the template ran more than " + std::to_string(limits_.max_steps) +
                        " evaluation steps (runaway loop?)");
}

void Evaluator::note_string(size_t bytes) {
    total_bytes_ += bytes;
    if (bytes > limits_.max_string_bytes)
        throw EvalError("the template built a string of " + std::to_string(bytes) +
                        " bytes, over the limit of " + std::to_string(limits_.max_string_bytes));
    if (total_bytes_ > limits_.max_total_bytes)
        throw EvalError("the template built more than " + std::to_string(limits_.max_total_bytes) +
                        " bytes of text in one render");
}

void Evaluator::note_iterations(uint64_t n) {
    iterations_ += n;
    if (iterations_ > limits_.max_loop_iterations)
        throw EvalError("the template ran more than " +
                        std::to_string(limits_.max_loop_iterations) +
                        " loop iterations (runaway loop?)");
}

void Evaluator::append(std::string& out, const std::string& s) {
    out += s;
    total_bytes_ += s.size();
    if (out.size() > limits_.max_string_bytes)
        throw EvalError("the rendered text passed the limit of " +
                        std::to_string(limits_.max_string_bytes) + " bytes");
    if (total_bytes_ > limits_.max_total_bytes)
        throw EvalError("the template built more than " + std::to_string(limits_.max_total_bytes) +
                        " bytes of text in one render");
}

void Evaluator::fail_at(const Node& n, const std::string& what) {
    throw Error(ErrorKind::invalid_input,
                "chat template error at " + describe_position(src_, n.offset) + ": " + what +
                    "\n  near: " + snippet_at(src_, n.offset),
                "the template cannot render these inputs; check the messages against what the "
                "template expects, or fix the template");
}

Value Evaluator::call(const Value& fn, CallArgs args) {
    if (fn.type() != Type::function) {
        if (fn.is_undefined()) throw EvalError(undefined_message(fn) + " and cannot be called");
        throw EvalError("'" + type_name(fn) + "' object is not callable");
    }
    if (call_depth_ >= limits_.max_call_depth)
        throw EvalError("calls nested more than " + std::to_string(limits_.max_call_depth) +
                        " deep (runaway recursion?)");
    ++call_depth_;
    struct Depth {
        int& d;
        ~Depth() { --d; }
    } depth{call_depth_};
    return fn.function_data().fn(*this, args);
}

Evaluator::Flow Evaluator::exec(const NodeList& nodes, const ScopePtr& scope, std::string& out) {
    for (const auto& n : nodes) {
        Flow f = exec_node(*n, scope, out);
        if (f != Flow::normal) return f;
    }
    return Flow::normal;
}

Evaluator::Flow Evaluator::exec_node(const Node& n, const ScopePtr& scope, std::string& out) {
    try {
        step();
        switch (n.kind) {
            case NodeKind::text:
                append(out, n.value.str());
                return Flow::normal;
            case NodeKind::output:
                append(out, py_str(eval(*n.children[0], scope)));
                return Flow::normal;
            case NodeKind::if_stmt:
                return exec(truthy(eval(*n.children[0], scope)) ? n.body : n.else_body, scope, out);
            case NodeKind::for_stmt:
                return exec_for(n, scope, out);
            case NodeKind::set_stmt:
                exec_set(*n.children[0], eval(*n.children[1], scope), scope);
                return Flow::normal;
            case NodeKind::set_block: {
                std::string body;
                exec(n.body, scope, body);
                Value v = Value::string(std::move(body));
                if (n.children[1]) v = eval_filter(*n.children[1], scope, &v);
                exec_set(*n.children[0], std::move(v), scope);
                return Flow::normal;
            }
            case NodeKind::filter_block: {
                std::string body;
                exec(n.body, scope, body);
                Value v = Value::string(std::move(body));
                append(out, py_str(eval_filter(*n.children[0], scope, &v)));
                return Flow::normal;
            }
            case NodeKind::macro:
                scope->vars[n.name] = make_macro(n, n.body, n.args, scope, n.name);
                return Flow::normal;
            case NodeKind::call_block: {
                const Node& call = *n.children[0];
                Value caller = make_macro(n, n.body, n.args, scope, "caller");
                Value fn = eval(*call.children[0], scope);
                CallArgs args = eval_args(call.args, scope);
                args.keyword.emplace_back("caller", caller);
                append(out, py_str(this->call(fn, std::move(args))));
                return Flow::normal;
            }
            case NodeKind::break_stmt:
                return Flow::break_loop;
            case NodeKind::continue_stmt:
                return Flow::continue_loop;
            default:
                append(out, py_str(eval(n, scope)));
                return Flow::normal;
        }
    } catch (const TemplateRaised& e) {
        throw Error(ErrorKind::invalid_input,
                    std::string("chat template raised an exception: ") + e.what() + " (at " +
                        describe_position(src_, n.offset) + ")",
                    kRaiseHint);
    } catch (const EvalError& e) {
        fail_at(n, e.what());
    }
}

void Evaluator::exec_set(const Node& target, Value v, const ScopePtr& scope) {
    if (target.kind == NodeKind::name) {
        scope->vars[target.name] = std::move(v);
    } else if (target.kind == NodeKind::tuple) {
        std::vector<Value> items = iterate(v);
        size_t want = target.children.size();
        if (items.size() != want)
            throw EvalError(items.size() > want
                                ? "too many values to unpack (expected " + std::to_string(want) +
                                      ")"
                                : "not enough values to unpack (expected " + std::to_string(want) +
                                      ", got " + std::to_string(items.size()) + ")");
        for (size_t i = 0; i < want; ++i)
            exec_set(*target.children[i], items[i], scope);
    } else {  // getattr: a namespace attribute
        const std::string& ns_name = target.children[0]->name;
        const Value* ns = scope->find(ns_name);
        if (!ns || ns->type() != Type::ns)
            throw EvalError("cannot set attribute '" + target.name + "' of '" + ns_name +
                            "': it is not a namespace() object");
        ns->ns_data().set(target.name, std::move(v));
    }
}

Evaluator::Flow Evaluator::exec_for(const Node& n, const ScopePtr& scope, std::string& out) {
    const Node& target = *n.children[0];
    Value iterable = eval(*n.children[1], scope);
    std::vector<Value> items;
    try {
        items = iterate(iterable);
    } catch (const EvalError& e) {
        fail_at(*n.children[1], e.what());
    }
    if (const Node* filter = n.children[2].get()) {
        std::vector<Value> kept;
        for (auto& item : items) {
            note_iterations(1);
            auto s = std::make_shared<Scope>(scope);
            exec_set(target, item, s);
            if (truthy(eval(*filter, s))) kept.push_back(std::move(item));
        }
        items = std::move(kept);
    }
    if (items.empty()) return exec(n.else_body, scope, out);
    const int64_t len = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < len; ++i) {
        note_iterations(1);
        auto s = std::make_shared<Scope>(scope);
        exec_set(target, items[static_cast<size_t>(i)], s);
        std::vector<std::pair<std::string, Value>> loop = {
            {"index", Value::integer(i + 1)},      {"index0", Value::integer(i)},
            {"revindex", Value::integer(len - i)}, {"revindex0", Value::integer(len - i - 1)},
            {"first", Value::boolean(i == 0)},     {"last", Value::boolean(i == len - 1)},
            {"length", Value::integer(len)},       {"depth", Value::integer(1)},
            {"depth0", Value::integer(0)},
        };
        if (i > 0) loop.emplace_back("previtem", items[static_cast<size_t>(i - 1)]);
        if (i + 1 < len) loop.emplace_back("nextitem", items[static_cast<size_t>(i + 1)]);
        loop.emplace_back("cycle", Value::function("loop.cycle", [i](Evaluator&, CallArgs& a) {
                              if (a.positional.empty())
                                  throw EvalError("loop.cycle() needs at least one value");
                              return a.positional[static_cast<size_t>(i) % a.positional.size()];
                          }));
        s->vars["loop"] = Value::dict(std::move(loop));
        Flow f = exec(n.body, s, out);
        if (f == Flow::break_loop) break;
    }
    return Flow::normal;
}

Value Evaluator::make_macro(const Node& n, const NodeList& body, const std::vector<Arg>& params,
                            const ScopePtr& closure, const std::string& name) {
    bool varargs = uses_name(body, "varargs"), kwargs = uses_name(body, "kwargs");
    bool caller = uses_name(body, "caller");
    closures_.push_back(closure);
    const NodeList* bodyp = &body;
    const std::vector<Arg>* paramsp = &params;
    (void)n;
    return Value::function(name, [=](Evaluator& ev, CallArgs& args) -> Value {
        auto s = std::make_shared<Scope>(closure);
        const auto& ps = *paramsp;
        std::vector<const Arg*> pending;
        for (size_t i = 0; i < ps.size(); ++i) {
            Value v;
            bool have = i < args.positional.size();
            if (have) v = args.positional[i];
            Value kw;
            if (args.take(ps[i].name, &kw)) {
                if (have)
                    throw EvalError("macro '" + name + "' got multiple values for argument '" +
                                    ps[i].name + "'");
                v = std::move(kw);
                have = true;
            }
            if (!have && ps[i].value) pending.push_back(&ps[i]);
            s->vars[ps[i].name] = have ? v : Value::undefined(ps[i].name);
        }
        std::vector<Value> extra;
        for (size_t i = ps.size(); i < args.positional.size(); ++i)
            extra.push_back(args.positional[i]);
        if (!extra.empty() && !varargs)
            throw EvalError("macro '" + name + "' takes not more than " +
                            std::to_string(ps.size()) + " argument(s)");
        if (varargs) s->vars["varargs"] = Value::list(std::move(extra), true);
        Value caller_fn;
        if (caller && args.take("caller", &caller_fn)) s->vars["caller"] = caller_fn;
        if (kwargs) {
            s->vars["kwargs"] = Value::dict(std::move(args.keyword));
        } else if (!args.keyword.empty()) {
            throw EvalError("macro '" + name + "' takes no keyword argument '" +
                            args.keyword.front().first + "'");
        }
        for (const Arg* p : pending)
            s->vars[p->name] = ev.eval(*p->value, s);
        std::string out;
        ev.exec(*bodyp, s, out);
        ev.note_string(out.size());
        return Value::string(std::move(out));
    });
}

Value Evaluator::eval(const Node& n, const ScopePtr& scope) {
    try {
        step();
        return eval_inner(n, scope);
    } catch (const TemplateRaised&) {
        throw;  // located by the statement that ran it
    } catch (const EvalError& e) {
        fail_at(n, e.what());
    }
}

CallArgs Evaluator::eval_args(const std::vector<Arg>& args, const ScopePtr& scope) {
    CallArgs out;
    for (const auto& a : args) {
        switch (a.kind) {
            case Arg::Kind::positional:
                out.positional.push_back(eval(*a.value, scope));
                break;
            case Arg::Kind::keyword:
                out.keyword.emplace_back(a.name, eval(*a.value, scope));
                break;
            case Arg::Kind::star:
                for (auto& v : iterate(eval(*a.value, scope)))
                    out.positional.push_back(v);
                break;
            case Arg::Kind::double_star: {
                Value d = eval(*a.value, scope);
                if (!d.is_dict()) throw EvalError("argument after ** must be a mapping");
                for (const auto& kv : d.dict_data().items)
                    out.keyword.push_back(kv);
                break;
            }
        }
    }
    for (size_t i = 0; i < out.keyword.size(); ++i)
        for (size_t j = 0; j < i; ++j)
            if (out.keyword[i].first == out.keyword[j].first)
                throw EvalError("got multiple values for keyword argument '" +
                                out.keyword[i].first + "'");
    return out;
}

Value Evaluator::eval_filter(const Node& n, const ScopePtr& scope, const Value* block_operand) {
    const Node* child = n.children[0].get();
    Value operand = !child                            ? *block_operand
                    : child->kind == NodeKind::filter ? eval_filter(*child, scope, block_operand)
                                                      : eval(*child, scope);
    CallArgs args = eval_args(n.args, scope);
    return apply_filter(*this, n.name, operand, args);
}

Value Evaluator::eval_call(const Node& n, const ScopePtr& scope) {
    const Node& callee = *n.children[0];
    Value fn = eval(callee, scope);
    CallArgs args = eval_args(n.args, scope);
    if (fn.is_undefined()) {
        std::string what = callee.kind == NodeKind::name ? "'" + callee.name + "'"
                           : callee.kind == NodeKind::getattr
                               ? "the attribute or method '" + callee.name + "'"
                               : "the called value";
        throw EvalError(what + " is undefined, so it cannot be called");
    }
    return call(fn, std::move(args));
}

Value Evaluator::eval_inner(const Node& n, const ScopePtr& scope) {
    switch (n.kind) {
        case NodeKind::literal:
            return n.value;
        case NodeKind::name: {
            const Value* v = scope->find(n.name);
            return v ? *v : Value::undefined(n.name);
        }
        case NodeKind::list:
        case NodeKind::tuple: {
            std::vector<Value> items;
            for (const auto& c : n.children)
                items.push_back(eval(*c, scope));
            return Value::list(std::move(items), n.kind == NodeKind::tuple);
        }
        case NodeKind::dict: {
            auto d = std::make_shared<DictData>();
            for (size_t i = 0; i + 1 < n.children.size(); i += 2) {
                Value k = eval(*n.children[i], scope);
                if (!k.is_string())
                    throw EvalError("dict keys must be strings in llmtune's Jinja, got '" +
                                    type_name(k) + "'");
                d->set(k.str(), eval(*n.children[i + 1], scope));
            }
            return Value::dict(std::move(d));
        }
        case NodeKind::getattr:
            return get_attribute(eval(*n.children[0], scope), n.name);
        case NodeKind::getitem:
            return get_item(eval(*n.children[0], scope), eval(*n.children[1], scope));
        case NodeKind::slice: {
            Value obj = eval(*n.children[0], scope);
            Value parts[3];
            for (int i = 0; i < 3; ++i)
                if (n.children[1 + i]) parts[i] = eval(*n.children[1 + i], scope);
            return slice_value(obj, parts[0], parts[1], parts[2]);
        }
        case NodeKind::call:
            return eval_call(n, scope);
        case NodeKind::filter:
            return eval_filter(n, scope, nullptr);
        case NodeKind::test: {
            Value operand = eval(*n.children[0], scope);
            CallArgs args = eval_args(n.args, scope);
            return Value::boolean(apply_test(*this, n.name, operand, args) != n.flag);
        }
        case NodeKind::unary: {
            Value v = eval(*n.children[0], scope);
            if (n.name == "not") return Value::boolean(!truthy(v));
            return negate(v, n.name == "-");
        }
        case NodeKind::binary: {
            if (n.name == "and" || n.name == "or") {
                Value l = eval(*n.children[0], scope);
                if (truthy(l) == (n.name == "or")) return l;
                return eval(*n.children[1], scope);
            }
            Value l = eval(*n.children[0], scope);
            Value r = eval(*n.children[1], scope);
            if (n.name == "~") {
                std::string s = py_str(l) + py_str(r);
                note_string(s.size());
                return Value::string(std::move(s));
            }
            return binary_op(*this, n.name, l, r);
        }
        case NodeKind::compare: {
            Value l = eval(*n.children[0], scope);
            for (size_t i = 0; i < n.ops.size(); ++i) {
                Value r = eval(*n.children[i + 1], scope);
                if (!compare_op(n.ops[i], l, r)) return Value::boolean(false);
                l = std::move(r);
            }
            return Value::boolean(true);
        }
        case NodeKind::condexpr: {
            if (truthy(eval(*n.children[0], scope))) return eval(*n.children[1], scope);
            return n.children[2] ? eval(*n.children[2], scope) : Value::undefined();
        }
        default:
            throw EvalError("a statement cannot be used as an expression");
    }
}

}  // namespace llmtune::tokenizer::jinja
