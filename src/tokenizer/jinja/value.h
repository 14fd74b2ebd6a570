// Runtime values of the Jinja engine, with Python's semantics (Jinja2 runs on Python, and
// transformers renders chat templates with it): str(), repr(), truthiness, ==, <, and
// json.dumps as transformers' `tojson` filter calls it.
//
// Lists and dicts are immutable once built (transformers uses Jinja2's immutable sandbox) and
// shared by pointer; namespaces are the one mutable container. Dict keys are strings and keep
// their insertion order, as Python dicts and JSON objects parsed in order do.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "common/json_file.h"

namespace llmtune::tokenizer::jinja {

// An error raised while evaluating; the evaluator adds the template position.
struct EvalError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class Value;
class Evaluator;

struct ListData {
    std::vector<Value> items;
    bool is_tuple = false;
};

struct DictData {
    std::vector<std::pair<std::string, Value>> items;
    const Value* find(const std::string& key) const;
    void set(const std::string& key, Value v);  // replaces in place or appends
};

struct CallArgs {
    std::vector<Value> positional;
    std::vector<std::pair<std::string, Value>> keyword;
    // Removes and returns keyword `name`, or nullptr-like undefined when absent.
    bool take(const std::string& name, Value* out);
};

using NativeFunction = std::function<Value(Evaluator&, CallArgs&)>;

struct FunctionData {
    std::string name;
    NativeFunction fn;
};

enum class Type { undefined, none, boolean, integer, floating, string, list, dict, ns, function };

class Value {
  public:
    Value() = default;  // undefined
    static Value undefined(std::string name = "");
    static Value none();
    static Value boolean(bool b);
    static Value integer(int64_t i);
    static Value floating(double f);
    static Value string(std::string s);
    static Value list(std::vector<Value> items, bool is_tuple = false);
    static Value dict(std::shared_ptr<DictData> d);
    static Value dict(std::vector<std::pair<std::string, Value>> items);
    static Value ns(std::shared_ptr<DictData> d);
    static Value function(std::string name, NativeFunction fn);

    Type type() const { return type_; }
    bool is_undefined() const { return type_ == Type::undefined; }
    bool is_none() const { return type_ == Type::none; }
    bool is_string() const { return type_ == Type::string; }
    bool is_number() const {
        return type_ == Type::integer || type_ == Type::floating || type_ == Type::boolean;
    }
    bool is_list() const { return type_ == Type::list; }  // list or tuple
    bool is_dict() const { return type_ == Type::dict; }

    bool as_bool() const { return b_; }
    int64_t as_int() const { return i_; }
    double as_double() const;                      // int, float or bool as a double
    const std::string& str() const { return s_; }  // string contents, or undefined's name
    const std::vector<Value>& items() const { return list_->items; }
    bool is_tuple() const { return list_ && list_->is_tuple; }
    const DictData& dict_data() const { return *dict_; }
    DictData& ns_data() const { return *dict_; }
    const FunctionData& function_data() const { return *fn_; }
    const void* identity() const;  // for `is sameas` on containers and functions

  private:
    Type type_ = Type::undefined;
    bool b_ = false;
    int64_t i_ = 0;
    double f_ = 0;
    std::string s_;
    std::shared_ptr<const ListData> list_;
    std::shared_ptr<DictData> dict_;
    std::shared_ptr<const FunctionData> fn_;
};

// Python's type name, for messages: 'str', 'int', 'list', 'dict', 'NoneType', 'Undefined'...
std::string type_name(const Value& v);

bool truthy(const Value& v);
std::string py_str(const Value& v);   // str(v); Undefined is ""
std::string py_repr(const Value& v);  // repr(v)
bool equals(const Value& a, const Value& b);
// Python ordering (<): numbers, strings, lists/tuples; throws EvalError otherwise.
int compare(const Value& a, const Value& b);

struct JsonOptions {
    bool has_indent = false;
    std::string indent;  // one level of indentation when has_indent
    std::string item_separator = ", ";
    std::string key_separator = ": ";
    bool sort_keys = false;
    bool ensure_ascii = false;
};
// json.dumps(v, ...); throws EvalError for values JSON cannot hold (Undefined, functions).
std::string to_json(const Value& v, const JsonOptions& opts);

Value from_json(const ordered_json& j);

}  // namespace llmtune::tokenizer::jinja
