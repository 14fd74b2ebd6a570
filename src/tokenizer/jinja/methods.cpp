// Attribute and item access, slicing, iteration, and the methods of str, dict and list.
#include <algorithm>
#include <set>

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/evaluator.h"
#include "tokenizer/jinja/text.h"

namespace llmtune::tokenizer::jinja {

std::vector<Value> bind_args(const std::string& fn, CallArgs& args,
                             std::initializer_list<const char*> names) {
    std::vector<Value> out(names.size());
    if (args.positional.size() > names.size())
        throw EvalError(fn + "() takes at most " + std::to_string(names.size()) + " argument(s), " +
                        std::to_string(args.positional.size()) + " given");
    size_t i = 0;
    for (const char* name : names) {
        Value kw;
        bool has_kw = args.take(name, &kw);
        if (i < args.positional.size()) {
            if (has_kw) throw EvalError(fn + "() got multiple values for argument '" + name + "'");
            out[i] = args.positional[i];
        } else if (has_kw) {
            out[i] = std::move(kw);
        }
        ++i;
    }
    if (!args.keyword.empty())
        throw EvalError(fn + "() got an unexpected keyword argument '" +
                        args.keyword.front().first + "'");
    return out;
}

const std::string& expect_string(const Value& v, const std::string& what) {
    if (!v.is_string()) throw EvalError(what + " must be a string, not '" + type_name(v) + "'");
    return v.str();
}

int64_t expect_int(const Value& v, const std::string& what) {
    if (v.type() != Type::integer && v.type() != Type::boolean)
        throw EvalError(what + " must be an integer, not '" + type_name(v) + "'");
    return v.as_int();
}

std::vector<Value> iterate(const Value& v) {
    switch (v.type()) {
        case Type::undefined:
            return {};
        case Type::list:
            return v.items();
        case Type::dict: {
            std::vector<Value> keys;
            for (const auto& kv : v.dict_data().items)
                keys.push_back(Value::string(kv.first));
            return keys;
        }
        case Type::string: {
            std::vector<Value> chars;
            for (char32_t c : utf8_decode(v.str())) {
                std::string s;
                utf8_append(s, c);
                chars.push_back(Value::string(std::move(s)));
            }
            return chars;
        }
        default:
            throw EvalError("'" + type_name(v) + "' object is not iterable");
    }
}

bool contains(const Value& container, const Value& item) {
    switch (container.type()) {
        case Type::undefined:
            return false;
        case Type::string:
            if (!item.is_string())
                throw EvalError("'in <string>' requires string as left operand, not " +
                                type_name(item));
            return container.str().find(item.str()) != std::string::npos;
        case Type::list:
            for (const auto& x : container.items())
                if (equals(x, item)) return true;
            return false;
        case Type::dict:
            return item.is_string() && container.dict_data().find(item.str());
        default:
            throw EvalError("argument of type '" + type_name(container) + "' is not iterable");
    }
}

namespace {

Value method(const std::string& name, NativeFunction fn) {
    return Value::function(name, std::move(fn));
}

[[noreturn]] void unsupported_method(const std::string& type, const std::string& name) {
    throw EvalError(type + "." + name + "() is not supported by llmtune's Jinja");
}

const std::set<std::string>& python_str_methods() {
    static const std::set<std::string> names = {
        "capitalize",   "casefold",    "center",    "count",      "encode",       "endswith",
        "expandtabs",   "find",        "format",    "format_map", "index",        "isalnum",
        "isalpha",      "isascii",     "isdecimal", "isdigit",    "isidentifier", "islower",
        "isnumeric",    "isprintable", "isspace",   "istitle",    "isupper",      "join",
        "ljust",        "lower",       "lstrip",    "maketrans",  "partition",    "removeprefix",
        "removesuffix", "replace",     "rfind",     "rindex",     "rjust",        "rpartition",
        "rsplit",       "rstrip",      "split",     "splitlines", "startswith",   "strip",
        "swapcase",     "title",       "translate", "upper",      "zfill"};
    return names;
}

bool affix_match(const std::string& s, const Value& arg, bool prefix) {
    auto one = [&](const std::string& a) {
        if (a.size() > s.size()) return false;
        return prefix ? s.compare(0, a.size(), a) == 0
                      : s.compare(s.size() - a.size(), a.size(), a) == 0;
    };
    if (arg.is_string()) return one(arg.str());
    if (arg.is_list()) {
        for (const auto& a : arg.items())
            if (one(expect_string(a, prefix ? "startswith() prefix" : "endswith() suffix")))
                return true;
        return false;
    }
    throw EvalError(std::string(prefix ? "startswith" : "endswith") +
                    "() argument must be str or a tuple of str, not " + type_name(arg));
}

Value string_list(std::vector<std::string> parts) {
    std::vector<Value> out;
    out.reserve(parts.size());
    for (auto& p : parts)
        out.push_back(Value::string(std::move(p)));
    return Value::list(std::move(out));
}

Value string_method(const std::string& s, const std::string& name) {
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
        bool l = name != "rstrip", r = name != "lstrip";
        return method(name, [s, l, r, name](Evaluator&, CallArgs& a) {
            auto v = bind_args(name, a, {"chars"});
            if (v[0].is_undefined() || v[0].is_none())
                return Value::string(py_strip(s, nullptr, l, r));
            return Value::string(py_strip(s, &expect_string(v[0], name + "() chars"), l, r));
        });
    }
    if (name == "split" || name == "rsplit") {
        return method(name, [s, name](Evaluator&, CallArgs& a) {
            auto v = bind_args(name, a, {"sep", "maxsplit"});
            int64_t maxsplit = v[1].is_undefined() ? -1 : expect_int(v[1], "maxsplit");
            if (v[0].is_undefined() || v[0].is_none())
                return string_list(name == "split" ? py_split(s, nullptr, maxsplit)
                                                   : py_rsplit(s, nullptr, maxsplit));
            const std::string& sep = expect_string(v[0], "sep");
            if (sep.empty()) throw EvalError("empty separator");
            return string_list(name == "split" ? py_split(s, &sep, maxsplit)
                                               : py_rsplit(s, &sep, maxsplit));
        });
    }
    if (name == "splitlines")
        return method(name, [s](Evaluator&, CallArgs& a) {
            auto v = bind_args("splitlines", a, {"keepends"});
            return string_list(py_splitlines(s, truthy(v[0])));
        });
    if (name == "startswith" || name == "endswith")
        return method(name, [s, name](Evaluator&, CallArgs& a) {
            auto v = bind_args(name, a, {"prefix"});
            if (v[0].is_undefined()) throw EvalError(name + "() takes exactly one argument");
            return Value::boolean(affix_match(s, v[0], name == "startswith"));
        });
    if (name == "replace")
        return method(name, [s](Evaluator& ev, CallArgs& a) {
            auto v = bind_args("replace", a, {"old", "new", "count"});
            int64_t count = v[2].is_undefined() ? -1 : expect_int(v[2], "count");
            std::string out = py_replace(s, expect_string(v[0], "replace() old"),
                                         expect_string(v[1], "replace() new"), count);
            ev.note_string(out.size());
            return Value::string(std::move(out));
        });
    if (name == "upper" || name == "lower" || name == "title" || name == "capitalize" ||
        name == "isdigit" || name == "isspace" || name == "islower" || name == "isupper")
        return method(name, [s, name](Evaluator&, CallArgs& a) {
            bind_args(name, a, {});
            if (name == "upper") return Value::string(to_upper(s));
            if (name == "lower") return Value::string(to_lower(s));
            if (name == "title") return Value::string(py_title(s));
            if (name == "capitalize") return Value::string(py_capitalize(s));
            std::u32string u = utf8_decode(s);
            if (name == "isdigit")
                return Value::boolean(!u.empty() && std::all_of(u.begin(), u.end(), [](char32_t c) {
                    return c >= '0' && c <= '9';
                }));
            if (name == "isspace")
                return Value::boolean(!u.empty() && std::all_of(u.begin(), u.end(), is_space));
            bool want_lower = name == "islower";
            return Value::boolean(s != to_upper(s) || s != to_lower(s)
                                      ? (want_lower ? s == to_lower(s) : s == to_upper(s))
                                      : false);
        });
    if (name == "find" || name == "count")
        return method(name, [s, name](Evaluator&, CallArgs& a) {
            auto v = bind_args(name, a, {"sub"});
            const std::string& sub = expect_string(v[0], name + "() sub");
            return Value::integer(name == "find" ? py_find(s, sub) : py_count(s, sub));
        });
    if (name == "join")
        return method(name, [s](Evaluator& ev, CallArgs& a) {
            auto v = bind_args("join", a, {"iterable"});
            std::string out;
            bool first = true;
            for (const auto& item : iterate(v[0])) {
                if (!first) out += s;
                first = false;
                out += expect_string(item, "join() item");
            }
            ev.note_string(out.size());
            return Value::string(std::move(out));
        });
    if (name == "removeprefix" || name == "removesuffix")
        return method(name, [s, name](Evaluator&, CallArgs& a) {
            auto v = bind_args(name, a, {"affix"});
            const std::string& x = expect_string(v[0], name + "() argument");
            bool prefix = name == "removeprefix";
            if (!affix_match(s, v[0], prefix)) return Value::string(s);
            return Value::string(prefix ? s.substr(x.size()) : s.substr(0, s.size() - x.size()));
        });
    if (python_str_methods().count(name))
        return method(name,
                      [name](Evaluator&, CallArgs&) -> Value { unsupported_method("str", name); });
    return Value::undefined(name);
}

Value dict_method(const Value& d, const std::string& name) {
    if (name == "items" || name == "keys" || name == "values")
        return method(name, [d, name](Evaluator&, CallArgs& a) {
            bind_args(name, a, {});
            std::vector<Value> out;
            for (const auto& kv : d.dict_data().items) {
                if (name == "items")
                    out.push_back(Value::list({Value::string(kv.first), kv.second}, true));
                else
                    out.push_back(name == "keys" ? Value::string(kv.first) : kv.second);
            }
            return Value::list(std::move(out));
        });
    if (name == "get")
        return method(name, [d](Evaluator&, CallArgs& a) {
            auto v = bind_args("get", a, {"key", "default"});
            const Value* found = v[0].is_string() ? d.dict_data().find(v[0].str()) : nullptr;
            if (found) return *found;
            return v[1].is_undefined() ? Value::none() : v[1];
        });
    if (name == "copy" || name == "fromkeys")
        return method(name,
                      [name](Evaluator&, CallArgs&) -> Value { unsupported_method("dict", name); });
    if (name == "clear" || name == "pop" || name == "popitem" || name == "setdefault" ||
        name == "update")
        return method(name, [name](Evaluator&, CallArgs&) -> Value {
            throw EvalError("dict." + name +
                            "() is unsafe: chat templates cannot modify their inputs");
        });
    return Value();
}

Value list_method(const std::string& name) {
    static const std::set<std::string> mutating = {"append", "clear",  "extend",  "insert",
                                                   "pop",    "remove", "reverse", "sort"};
    if (mutating.count(name))
        return method(name, [name](Evaluator&, CallArgs&) -> Value {
            throw EvalError("list." + name +
                            "() is unsafe: chat templates cannot modify lists "
                            "(transformers renders them in Jinja's immutable sandbox)");
        });
    if (name == "copy" || name == "count" || name == "index")
        return method(name,
                      [name](Evaluator&, CallArgs&) -> Value { unsupported_method("list", name); });
    return Value::undefined(name);
}

// Python's index normalization; false when out of range.
bool normalize_index(int64_t& i, size_t size) {
    int64_t n = static_cast<int64_t>(size);
    if (i < 0) i += n;
    return i >= 0 && i < n;
}

}  // namespace

Value get_attribute(const Value& obj, const std::string& name) {
    switch (obj.type()) {
        case Type::dict: {
            Value m = dict_method(obj, name);
            if (m.type() == Type::function) return m;
            const Value* v = obj.dict_data().find(name);
            return v ? *v : Value::undefined(name);
        }
        case Type::ns: {
            const Value* v = obj.ns_data().find(name);
            return v ? *v : Value::undefined(name);
        }
        case Type::string:
            return string_method(obj.str(), name);
        case Type::list:
            return list_method(name);
        default:
            return Value::undefined(name);
    }
}

Value get_item(const Value& obj, const Value& key) {
    if (key.type() == Type::integer || key.type() == Type::boolean) {
        int64_t i = key.as_int();
        if (obj.is_list()) {
            if (!normalize_index(i, obj.items().size())) return Value::undefined();
            return obj.items()[static_cast<size_t>(i)];
        }
        if (obj.is_string()) {
            std::u32string u = utf8_decode(obj.str());
            if (!normalize_index(i, u.size())) return Value::undefined();
            std::string s;
            utf8_append(s, u[static_cast<size_t>(i)]);
            return Value::string(std::move(s));
        }
        return Value::undefined();
    }
    if (key.is_string()) {
        if (obj.is_dict()) {
            const Value* v = obj.dict_data().find(key.str());
            if (v) return *v;
        }
        return get_attribute(obj, key.str());  // Jinja2 falls back to the attribute
    }
    return Value::undefined();
}

Value slice_value(const Value& obj, const Value& start_v, const Value& stop_v,
                  const Value& step_v) {
    auto opt = [](const Value& v, const char* what, int64_t dflt, bool* given) {
        *given = !(v.is_undefined() || v.is_none());
        return *given ? expect_int(v, std::string("slice ") + what) : dflt;
    };
    bool has_start, has_stop, has_step;
    int64_t step = opt(step_v, "step", 1, &has_step);
    if (step == 0) throw EvalError("slice step cannot be zero");
    std::u32string chars;
    bool is_str = obj.is_string();
    if (is_str)
        chars = utf8_decode(obj.str());
    else if (!obj.is_list()) {
        if (obj.is_undefined()) return Value::undefined();
        throw EvalError("'" + type_name(obj) + "' object is not subscriptable");
    }
    int64_t n = static_cast<int64_t>(is_str ? chars.size() : obj.items().size());
    int64_t start = opt(start_v, "start", 0, &has_start), stop = opt(stop_v, "stop", 0, &has_stop);
    // Python's PySlice_AdjustIndices.
    auto adjust = [&](int64_t& i, bool given, int64_t dflt_pos, int64_t dflt_neg) {
        if (!given) {
            i = step > 0 ? dflt_pos : dflt_neg;
            return;
        }
        if (i < 0) {
            i += n;
            if (i < 0) i = step < 0 ? -1 : 0;
        } else if (i >= n) {
            i = step < 0 ? n - 1 : n;
        }
    };
    adjust(start, has_start, 0, n - 1);
    adjust(stop, has_stop, n, -1);
    std::u32string out_chars;
    std::vector<Value> out_items;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        if (is_str)
            out_chars += chars[static_cast<size_t>(i)];
        else
            out_items.push_back(obj.items()[static_cast<size_t>(i)]);
    }
    if (is_str) return Value::string(utf8_encode(out_chars));
    return Value::list(std::move(out_items), obj.is_tuple());
}

}  // namespace llmtune::tokenizer::jinja
