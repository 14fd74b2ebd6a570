// Jinja2's built-in filters (the subset chat templates use), with transformers' tojson.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/evaluator.h"
#include "tokenizer/jinja/operators.h"
#include "tokenizer/jinja/text.h"

namespace llmtune::tokenizer::jinja {

namespace {

using FilterFn = Value (*)(Evaluator&, const Value&, CallArgs&);

int64_t py_len(const Value& v) {
    switch (v.type()) {
        case Type::undefined:
            return 0;
        case Type::string:
            return static_cast<int64_t>(codepoint_count(v.str()));
        case Type::list:
            return static_cast<int64_t>(v.items().size());
        case Type::dict:
            return static_cast<int64_t>(v.dict_data().items.size());
        default:
            throw EvalError("object of type '" + type_name(v) + "' has no len()");
    }
}

// Jinja2's attribute getter for filters: "a.b" walks attributes, digits index lists.
Value attr_path(const Value& item, const std::string& path) {
    Value cur = item;
    const std::string dot = ".";
    for (const auto& part : py_split(path, &dot, -1)) {
        bool digits = !part.empty() && std::all_of(part.begin(), part.end(),
                                                   [](char c) { return c >= '0' && c <= '9'; });
        cur = digits ? get_item(cur, Value::integer(std::atoll(part.c_str())))
                     : get_item(cur, Value::string(part));
    }
    return cur;
}

// Sort key comparison with Jinja2's case folding of strings.
int compare_keys(const Value& a, const Value& b, bool case_sensitive) {
    if (!case_sensitive && a.is_string() && b.is_string())
        return compare(Value::string(to_lower(a.str())), Value::string(to_lower(b.str())));
    return compare(a, b);
}

Value join_strings(Evaluator& ev, const std::vector<Value>& items, const std::string& sep) {
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += sep;
        out += py_str(items[i]);
        if (out.size() > ev.limits().max_string_bytes) ev.note_string(out.size());
    }
    ev.note_string(out.size());
    return Value::string(std::move(out));
}

Value f_default(Evaluator&, const Value& v, CallArgs& a) {
    auto p = bind_args("default", a, {"default_value", "boolean"});
    Value dflt = p[0].is_undefined() ? Value::string("") : p[0];
    if (v.is_undefined() || (truthy(p[1]) && !truthy(v))) return dflt;
    return v;
}

Value f_length(Evaluator&, const Value& v, CallArgs& a) {
    bind_args("length", a, {});
    return Value::integer(py_len(v));
}

Value f_tojson(Evaluator&, const Value& v, CallArgs& a) {
    // transformers: json.dumps(x, ensure_ascii=False, indent=None, separators=None,
    // sort_keys=False)
    auto p = bind_args("tojson", a, {"ensure_ascii", "indent", "separators", "sort_keys"});
    JsonOptions o;
    o.ensure_ascii = truthy(p[0]);
    o.sort_keys = truthy(p[3]);
    if (!p[1].is_undefined() && !p[1].is_none()) {
        o.has_indent = true;
        if (p[1].is_string())
            o.indent = p[1].str();
        else
            o.indent =
                std::string(static_cast<size_t>(std::max<int64_t>(
                                0, std::min<int64_t>(expect_int(p[1], "tojson indent"), 64))),
                            ' ');
        o.item_separator = ",";
    }
    if (!p[2].is_undefined() && !p[2].is_none()) {
        if (!p[2].is_list() || p[2].items().size() != 2)
            throw EvalError("tojson separators must be a pair of strings");
        o.item_separator = expect_string(p[2].items()[0], "tojson item separator");
        o.key_separator = expect_string(p[2].items()[1], "tojson key separator");
    }
    return Value::string(to_json(v, o));
}

Value f_trim(Evaluator&, const Value& v, CallArgs& a) {
    auto p = bind_args("trim", a, {"chars"});
    std::string s = py_str(v);
    if (p[0].is_undefined() || p[0].is_none())
        return Value::string(py_strip(s, nullptr, true, true));
    return Value::string(py_strip(s, &expect_string(p[0], "trim chars"), true, true));
}

Value f_string(Evaluator&, const Value& v, CallArgs& a) {
    bind_args("string", a, {});
    return Value::string(py_str(v));
}

Value f_upper(Evaluator&, const Value& v, CallArgs& a) {
    bind_args("upper", a, {});
    return Value::string(to_upper(py_str(v)));
}
Value f_lower(Evaluator&, const Value& v, CallArgs& a) {
    bind_args("lower", a, {});
    return Value::string(to_lower(py_str(v)));
}
Value f_title(Evaluator&, const Value& v, CallArgs& a) {
    bind_args("title", a, {});
    return Value::string(jinja_title(py_str(v)));
}
Value f_capitalize(Evaluator&, const Value& v, CallArgs& a) {
    bind_args("capitalize", a, {});
    return Value::string(py_capitalize(py_str(v)));
}

Value f_first(Evaluator&, const Value& v, CallArgs& a) {
    bind_args("first", a, {});
    std::vector<Value> items = iterate(v);
    return items.empty() ? Value::undefined("first item") : items.front();
}
Value f_last(Evaluator&, const Value& v, CallArgs& a) {
    bind_args("last", a, {});
    std::vector<Value> items = iterate(v);
    return items.empty() ? Value::undefined("last item") : items.back();
}

Value f_list(Evaluator&, const Value& v, CallArgs& a) {
    bind_args("list", a, {});
    return Value::list(iterate(v));
}

Value f_reverse(Evaluator&, const Value& v, CallArgs& a) {
    bind_args("reverse", a, {});
    if (v.is_string()) {
        std::u32string u = utf8_decode(v.str());
        std::reverse(u.begin(), u.end());
        return Value::string(utf8_encode(u));
    }
    std::vector<Value> items = iterate(v);
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
}

Value f_join(Evaluator& ev, const Value& v, CallArgs& a) {
    auto p = bind_args("join", a, {"d", "attribute"});
    std::vector<Value> items = iterate(v);
    if (!p[1].is_undefined() && !p[1].is_none())
        for (auto& item : items)
            item = attr_path(item, py_str(p[1]));
    return join_strings(ev, items, p[0].is_undefined() ? "" : py_str(p[0]));
}

Value f_replace(Evaluator& ev, const Value& v, CallArgs& a) {
    auto p = bind_args("replace", a, {"old", "new", "count"});
    int64_t count = p[2].is_undefined() || p[2].is_none() ? -1 : expect_int(p[2], "replace count");
    std::string out = py_replace(py_str(v), py_str(p[0]), py_str(p[1]), count);
    ev.note_string(out.size());
    return Value::string(std::move(out));
}

Value f_indent(Evaluator& ev, const Value& v, CallArgs& a) {
    auto p = bind_args("indent", a, {"width", "first", "blank"});
    std::string ind;
    if (p[0].is_string())
        ind = p[0].str();
    else
        ind = std::string(static_cast<size_t>(std::clamp<int64_t>(
                              p[0].is_undefined() ? 4 : expect_int(p[0], "indent width"), 0, 1024)),
                          ' ');
    std::string s = py_str(v) + "\n";
    std::vector<std::string> lines = py_splitlines(s, false);
    std::string out;
    if (truthy(p[2])) {
        for (size_t i = 0; i < lines.size(); ++i)
            out += (i ? "\n" + ind : "") + lines[i];
    } else {
        out = lines.empty() ? "" : lines[0];
        for (size_t i = 1; i < lines.size(); ++i)
            out += "\n" + (lines[i].empty() ? "" : ind + lines[i]);
    }
    if (truthy(p[1])) out = ind + out;
    ev.note_string(out.size());
    return Value::string(std::move(out));
}

Value f_int(Evaluator&, const Value& v, CallArgs& a) {
    auto p = bind_args("int", a, {"default", "base"});
    Value dflt = p[0].is_undefined() ? Value::integer(0) : p[0];
    int base = p[1].is_undefined() ? 10 : static_cast<int>(expect_int(p[1], "int base"));
    if (v.type() == Type::integer || v.type() == Type::boolean) return Value::integer(v.as_int());
    if (v.type() == Type::floating) {
        double d = v.as_double();
        if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) return dflt;
        return Value::integer(static_cast<int64_t>(d));
    }
    if (!v.is_string()) return dflt;
    std::string s = py_strip(v.str(), nullptr, true, true);
    s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
    if (s.empty()) return dflt;
    char* end = nullptr;
    errno = 0;
    long long i = std::strtoll(s.c_str(), &end, base);
    if (*end == '\0' && errno == 0) return Value::integer(i);
    double d = std::strtod(s.c_str(), &end);
    if (*end == '\0' && std::isfinite(d) && std::fabs(d) < 9.2e18)
        return Value::integer(static_cast<int64_t>(d));
    return dflt;
}

Value f_float(Evaluator&, const Value& v, CallArgs& a) {
    auto p = bind_args("float", a, {"default"});
    Value dflt = p[0].is_undefined() ? Value::floating(0.0) : p[0];
    if (v.is_number()) return Value::floating(v.as_double());
    if (!v.is_string()) return dflt;
    std::string s = py_strip(v.str(), nullptr, true, true);
    if (s.empty()) return dflt;
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    return *end == '\0' ? Value::floating(d) : dflt;
}

Value f_abs(Evaluator&, const Value& v, CallArgs& a) {
    bind_args("abs", a, {});
    if (v.type() == Type::floating) return Value::floating(std::fabs(v.as_double()));
    if (v.type() == Type::integer || v.type() == Type::boolean) {
        if (v.as_int() == INT64_MIN) throw EvalError("integer overflow");
        return Value::integer(std::llabs(v.as_int()));
    }
    throw EvalError("bad operand type for abs(): '" + type_name(v) + "'");
}

Value f_round(Evaluator&, const Value& v, CallArgs& a) {
    auto p = bind_args("round", a, {"precision", "method"});
    int64_t prec = p[0].is_undefined() ? 0 : expect_int(p[0], "round precision");
    std::string m = p[1].is_undefined() ? "common" : expect_string(p[1], "round method");
    if (m != "common" && m != "ceil" && m != "floor")
        throw EvalError("round method must be 'common', 'ceil' or 'floor'");
    if (!v.is_number()) throw EvalError("round() needs a number, not '" + type_name(v) + "'");
    if (m == "common" && v.type() != Type::floating) return Value::integer(v.as_int());
    double scale = std::pow(10.0, static_cast<double>(prec)), x = v.as_double() * scale;
    double r = m == "ceil" ? std::ceil(x) : m == "floor" ? std::floor(x) : std::nearbyint(x);
    return Value::floating(r / scale);
}

Value f_items(Evaluator& ev, const Value& v, CallArgs& a) {
    if (v.is_undefined()) return Value::list({});
    if (!v.is_dict()) throw EvalError("items filter needs a mapping, not '" + type_name(v) + "'");
    CallArgs none = a;
    return ev.call(get_attribute(v, "items"), std::move(none));
}

Value f_dictsort(Evaluator&, const Value& v, CallArgs& a) {
    auto p = bind_args("dictsort", a, {"case_sensitive", "by", "reverse"});
    if (!v.is_dict()) throw EvalError("dictsort needs a mapping, not '" + type_name(v) + "'");
    std::string by = p[1].is_undefined() ? "key" : expect_string(p[1], "dictsort by");
    if (by != "key" && by != "value")
        throw EvalError("dictsort: you can only sort by either 'key' or 'value'");
    std::vector<Value> items;
    for (const auto& kv : v.dict_data().items)
        items.push_back(Value::list({Value::string(kv.first), kv.second}, true));
    size_t idx = by == "key" ? 0 : 1;
    bool cs = truthy(p[0]);
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
        return compare_keys(x.items()[idx], y.items()[idx], cs) < 0;
    });
    if (truthy(p[2])) std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
}

Value f_sort(Evaluator&, const Value& v, CallArgs& a) {
    auto p = bind_args("sort", a, {"reverse", "case_sensitive", "attribute"});
    std::vector<Value> items = iterate(v);
    bool cs = truthy(p[1]);
    bool has_attr = !p[2].is_undefined() && !p[2].is_none();
    std::string attr = has_attr ? py_str(p[2]) : "";
    auto key = [&](const Value& x) { return has_attr ? attr_path(x, attr) : x; };
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
        return compare_keys(key(x), key(y), cs) < 0;
    });
    if (truthy(p[0])) std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
}

Value f_unique(Evaluator&, const Value& v, CallArgs& a) {
    auto p = bind_args("unique", a, {"case_sensitive", "attribute"});
    bool cs = truthy(p[0]);
    bool has_attr = !p[1].is_undefined() && !p[1].is_none();
    std::vector<Value> out, seen;
    for (const auto& item : iterate(v)) {
        Value k = has_attr ? attr_path(item, py_str(p[1])) : item;
        if (!cs && k.is_string()) k = Value::string(to_lower(k.str()));
        bool dup =
            std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, k); });
        if (!dup) {
            seen.push_back(k);
            out.push_back(item);
        }
    }
    return Value::list(std::move(out));
}

Value min_max(const Value& v, CallArgs& a, bool want_max) {
    auto p = bind_args(want_max ? "max" : "min", a, {"case_sensitive", "attribute"});
    bool has_attr = !p[1].is_undefined() && !p[1].is_none();
    std::vector<Value> items = iterate(v);
    if (items.empty())
        return Value::undefined(want_max ? "max of an empty sequence" : "min of an empty sequence");
    size_t best = 0;
    for (size_t i = 1; i < items.size(); ++i) {
        Value x = has_attr ? attr_path(items[i], py_str(p[1])) : items[i];
        Value y = has_attr ? attr_path(items[best], py_str(p[1])) : items[best];
        int c = compare_keys(x, y, truthy(p[0]));
        if (want_max ? c > 0 : c < 0) best = i;
    }
    return items[best];
}
Value f_max(Evaluator&, const Value& v, CallArgs& a) {
    return min_max(v, a, true);
}
Value f_min(Evaluator&, const Value& v, CallArgs& a) {
    return min_max(v, a, false);
}

Value select_impl(Evaluator& ev, const Value& v, CallArgs& a, bool by_attr, bool keep) {
    std::vector<Value> args = a.positional;
    if (!a.keyword.empty()) throw EvalError("select/reject filters take no keyword arguments");
    std::string attr;
    if (by_attr) {
        if (args.empty()) throw EvalError("selectattr/rejectattr need an attribute name");
        attr = py_str(args[0]);
        args.erase(args.begin());
    }
    std::string test;
    if (!args.empty()) {
        test = expect_string(args[0], "the test name");
        args.erase(args.begin());
        if (!is_known_test(test)) throw EvalError("unknown or unsupported test '" + test + "'");
    }
    std::vector<Value> out;
    for (const auto& item : iterate(v)) {
        Value x = by_attr ? attr_path(item, attr) : item;
        bool r;
        if (test.empty()) {
            r = truthy(x);
        } else {
            CallArgs ta;
            ta.positional = args;
            r = apply_test(ev, test, x, ta);
        }
        if (r == keep) out.push_back(item);
    }
    return Value::list(std::move(out));
}
Value f_select(Evaluator& ev, const Value& v, CallArgs& a) {
    return select_impl(ev, v, a, false, true);
}
Value f_reject(Evaluator& ev, const Value& v, CallArgs& a) {
    return select_impl(ev, v, a, false, false);
}
Value f_selectattr(Evaluator& ev, const Value& v, CallArgs& a) {
    return select_impl(ev, v, a, true, true);
}
Value f_rejectattr(Evaluator& ev, const Value& v, CallArgs& a) {
    return select_impl(ev, v, a, true, false);
}

Value f_map(Evaluator& ev, const Value& v, CallArgs& a) {
    std::vector<Value> out;
    Value attr;
    if (a.positional.empty() && a.take("attribute", &attr)) {
        Value dflt;
        bool has_default = a.take("default", &dflt);
        if (!a.keyword.empty())
            throw EvalError("map() got an unexpected keyword argument '" + a.keyword[0].first +
                            "'");
        for (const auto& item : iterate(v)) {
            Value x = attr_path(item, py_str(attr));
            out.push_back(x.is_undefined() && has_default ? dflt : x);
        }
        return Value::list(std::move(out));
    }
    if (a.positional.empty()) throw EvalError("map() needs a filter name or attribute=");
    std::string name = expect_string(a.positional[0], "map() filter name");
    if (!is_known_filter(name)) throw EvalError("unknown or unsupported filter '" + name + "'");
    for (const auto& item : iterate(v)) {
        CallArgs fa;
        fa.positional.assign(a.positional.begin() + 1, a.positional.end());
        fa.keyword = a.keyword;
        out.push_back(apply_filter(ev, name, item, fa));
    }
    return Value::list(std::move(out));
}

Value f_attr(Evaluator&, const Value& v, CallArgs& a) {
    auto p = bind_args("attr", a, {"name"});
    return get_attribute(v, expect_string(p[0], "attr name"));
}

Value f_wordcount(Evaluator&, const Value& v, CallArgs& a) {
    bind_args("wordcount", a, {});
    int64_t n = 0;
    bool in_word = false;
    for (char32_t c : utf8_decode(py_str(v))) {
        bool w = (c < 0x80) ? (std::isalnum(static_cast<int>(c)) || c == '_') : !is_space(c);
        if (w && !in_word) ++n;
        in_word = w;
    }
    return Value::integer(n);
}

Value f_sum(Evaluator& ev, const Value& v, CallArgs& a) {
    auto p = bind_args("sum", a, {"attribute", "start"});
    Value total = p[1].is_undefined() ? Value::integer(0) : p[1];
    bool has_attr = !p[0].is_undefined() && !p[0].is_none();
    for (const auto& item : iterate(v))
        total = binary_op(ev, "+", total, has_attr ? attr_path(item, py_str(p[0])) : item);
    return total;
}

const std::map<std::string, FilterFn>& filters() {
    static const std::map<std::string, FilterFn> table = {
        {"abs", f_abs},
        {"attr", f_attr},
        {"capitalize", f_capitalize},
        {"count", f_length},
        {"d", f_default},
        {"default", f_default},
        {"dictsort", f_dictsort},
        {"first", f_first},
        {"float", f_float},
        {"indent", f_indent},
        {"int", f_int},
        {"items", f_items},
        {"join", f_join},
        {"last", f_last},
        {"length", f_length},
        {"list", f_list},
        {"lower", f_lower},
        {"map", f_map},
        {"max", f_max},
        {"min", f_min},
        {"reject", f_reject},
        {"rejectattr", f_rejectattr},
        {"replace", f_replace},
        {"reverse", f_reverse},
        {"round", f_round},
        {"safe", f_string},
        {"select", f_select},
        {"selectattr", f_selectattr},
        {"sort", f_sort},
        {"string", f_string},
        {"sum", f_sum},
        {"title", f_title},
        {"tojson", f_tojson},
        {"trim", f_trim},
        {"unique", f_unique},
        {"upper", f_upper},
        {"wordcount", f_wordcount},
    };
    return table;
}

}  // namespace

bool is_known_filter(const std::string& name) {
    return filters().count(name) > 0;
}

Value apply_filter(Evaluator& ev, const std::string& name, const Value& operand, CallArgs& args) {
    auto it = filters().find(name);
    if (it == filters().end()) throw EvalError("unknown or unsupported filter '" + name + "'");
    return it->second(ev, operand, args);
}

}  // namespace llmtune::tokenizer::jinja
