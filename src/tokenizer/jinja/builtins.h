// Jinja's built-in filters, tests, global functions, and the attributes and methods of
// values (str.strip(), dict.items(), ...), with Jinja2/Python semantics. transformers'
// additions are here too: `tojson` as json.dumps (keys unsorted, ensure_ascii=False),
// `raise_exception(msg)` and `strftime_now(format)`.
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

#include "tokenizer/jinja/value.h"

namespace llmtune::tokenizer::jinja {

class Evaluator;
struct Scope;

// An exception raised by the template itself through raise_exception().
struct TemplateRaised : EvalError {
    using EvalError::EvalError;
};

bool is_known_filter(const std::string& name);
bool is_known_test(const std::string& name);

Value apply_filter(Evaluator& ev, const std::string& name, const Value& operand, CallArgs& args);
bool apply_test(Evaluator& ev, const std::string& name, const Value& operand, CallArgs& args);

// Defines range, namespace, dict, raise_exception and strftime_now.
void install_globals(Scope& globals);

// obj.name and obj[key] as Jinja2's sandbox resolves them; missing gives undefined.
Value get_attribute(const Value& obj, const std::string& name);
Value get_item(const Value& obj, const Value& key);
Value slice_value(const Value& obj, const Value& start, const Value& stop, const Value& step);

// The items a for loop or a filter iterates: list items, dict keys, string characters;
// undefined is empty. Throws EvalError for values that are not iterable.
std::vector<Value> iterate(const Value& v);
bool contains(const Value& container, const Value& item);  // `item in container`

// Positional-or-keyword argument binding for builtins: binds args to `names` in order,
// rejecting unknown keywords and extra positionals. Missing ones are undefined.
std::vector<Value> bind_args(const std::string& fn, CallArgs& args,
                             std::initializer_list<const char*> names);

// Throws EvalError unless v is a string; returns it.
const std::string& expect_string(const Value& v, const std::string& what);
int64_t expect_int(const Value& v, const std::string& what);

}  // namespace llmtune::tokenizer::jinja
