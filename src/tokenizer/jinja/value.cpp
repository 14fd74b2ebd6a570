#include "tokenizer/jinja/value.h"

#include <algorithm>
#include <cmath>

#include "tokenizer/jinja/text.h"

namespace llmtune::tokenizer::jinja {

const Value* DictData::find(const std::string& key) const {
    for (const auto& kv : items)
        if (kv.first == key) return &kv.second;
    return nullptr;
}

void DictData::set(const std::string& key, Value v) {
    for (auto& kv : items)
        if (kv.first == key) {
            kv.second = std::move(v);
            return;
        }
    items.emplace_back(key, std::move(v));
}

bool CallArgs::take(const std::string& name, Value* out) {
    for (auto it = keyword.begin(); it != keyword.end(); ++it)
        if (it->first == name) {
            *out = std::move(it->second);
            keyword.erase(it);
            return true;
        }
    return false;
}

Value Value::undefined(std::string name) {
    Value v;
    v.s_ = std::move(name);
    return v;
}
Value Value::none() {
    Value v;
    v.type_ = Type::none;
    return v;
}
Value Value::boolean(bool b) {
    Value v;
    v.type_ = Type::boolean;
    v.b_ = b;
    v.i_ = b ? 1 : 0;
    return v;
}
Value Value::integer(int64_t i) {
    Value v;
    v.type_ = Type::integer;
    v.i_ = i;
    return v;
}
Value Value::floating(double f) {
    Value v;
    v.type_ = Type::floating;
    v.f_ = f;
    return v;
}
Value Value::string(std::string s) {
    Value v;
    v.type_ = Type::string;
    v.s_ = std::move(s);
    return v;
}
Value Value::list(std::vector<Value> items, bool is_tuple) {
    Value v;
    v.type_ = Type::list;
    auto d = std::make_shared<ListData>();
    d->items = std::move(items);
    d->is_tuple = is_tuple;
    v.list_ = std::move(d);
    return v;
}
Value Value::dict(std::shared_ptr<DictData> d) {
    Value v;
    v.type_ = Type::dict;
    v.dict_ = std::move(d);
    return v;
}
Value Value::dict(std::vector<std::pair<std::string, Value>> items) {
    auto d = std::make_shared<DictData>();
    d->items = std::move(items);
    return dict(std::move(d));
}
Value Value::ns(std::shared_ptr<DictData> d) {
    Value v;
    v.type_ = Type::ns;
    v.dict_ = std::move(d);
    return v;
}
Value Value::function(std::string name, NativeFunction fn) {
    Value v;
    v.type_ = Type::function;
    auto d = std::make_shared<FunctionData>();
    d->name = std::move(name);
    d->fn = std::move(fn);
    v.fn_ = std::move(d);
    return v;
}

double Value::as_double() const {
    if (type_ == Type::floating) return f_;
    return static_cast<double>(i_);
}

const void* Value::identity() const {
    if (list_) return list_.get();
    if (dict_) return dict_.get();
    if (fn_) return fn_.get();
    return nullptr;
}

std::string type_name(const Value& v) {
    switch (v.type()) {
        case Type::undefined:
            return "Undefined";
        case Type::none:
            return "NoneType";
        case Type::boolean:
            return "bool";
        case Type::integer:
            return "int";
        case Type::floating:
            return "float";
        case Type::string:
            return "str";
        case Type::list:
            return v.is_tuple() ? "tuple" : "list";
        case Type::dict:
            return "dict";
        case Type::ns:
            return "Namespace";
        case Type::function:
            return "function";
    }
    return "?";
}

bool truthy(const Value& v) {
    switch (v.type()) {
        case Type::undefined:
        case Type::none:
            return false;
        case Type::boolean:
            return v.as_bool();
        case Type::integer:
            return v.as_int() != 0;
        case Type::floating:
            return v.as_double() != 0;
        case Type::string:
            return !v.str().empty();
        case Type::list:
            return !v.items().empty();
        case Type::dict:
            return !v.dict_data().items.empty();
        case Type::ns:
        case Type::function:
            return true;
    }
    return false;
}

namespace {

std::string repr_items(const Value& v) {
    std::string out;
    if (v.is_list()) {
        out = v.is_tuple() ? "(" : "[";
        const auto& items = v.items();
        for (size_t i = 0; i < items.size(); ++i) {
            if (i) out += ", ";
            out += py_repr(items[i]);
        }
        if (v.is_tuple() && items.size() == 1) out += ",";
        out += v.is_tuple() ? ")" : "]";
        return out;
    }
    out = "{";
    const auto& items = v.type() == Type::dict ? v.dict_data().items : v.ns_data().items;
    for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += ", ";
        out += py_repr_string(items[i].first) + ": " + py_repr(items[i].second);
    }
    return out + "}";
}

}  // namespace

std::string py_str(const Value& v) {
    switch (v.type()) {
        case Type::undefined:
            return "";
        case Type::none:
            return "None";
        case Type::boolean:
            return v.as_bool() ? "True" : "False";
        case Type::integer:
            return std::to_string(v.as_int());
        case Type::floating:
            return py_float_repr(v.as_double());
        case Type::string:
            return v.str();
        case Type::list:
        case Type::dict:
            return repr_items(v);
        case Type::ns:
            return "<Namespace " + repr_items(v) + ">";
        case Type::function:
            return "<function " + v.function_data().name + ">";
    }
    return "";
}

std::string py_repr(const Value& v) {
    if (v.is_string()) return py_repr_string(v.str());
    return py_str(v);
}

bool equals(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.type() != Type::floating && b.type() != Type::floating)
            return a.as_int() == b.as_int();
        return a.as_double() == b.as_double();
    }
    if (a.type() != b.type()) return false;
    switch (a.type()) {
        case Type::undefined:
        case Type::none:
            return true;
        case Type::string:
            return a.str() == b.str();
        case Type::list: {
            if (a.is_tuple() != b.is_tuple() || a.items().size() != b.items().size()) return false;
            for (size_t i = 0; i < a.items().size(); ++i)
                if (!equals(a.items()[i], b.items()[i])) return false;
            return true;
        }
        case Type::dict: {
            const auto& x = a.dict_data().items;
            if (x.size() != b.dict_data().items.size()) return false;
            for (const auto& kv : x) {
                const Value* o = b.dict_data().find(kv.first);
                if (!o || !equals(kv.second, *o)) return false;
            }
            return true;
        }
        default:
            return a.identity() == b.identity();
    }
}

int compare(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.type() != Type::floating && b.type() != Type::floating)
            return a.as_int() < b.as_int() ? -1 : a.as_int() > b.as_int() ? 1 : 0;
        double x = a.as_double(), y = b.as_double();
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (a.is_string() && b.is_string()) {
        int c = a.str().compare(b.str());  // UTF-8 byte order is code point order
        return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
        size_t n = std::min(a.items().size(), b.items().size());
        for (size_t i = 0; i < n; ++i) {
            if (equals(a.items()[i], b.items()[i])) continue;
            return compare(a.items()[i], b.items()[i]);
        }
        return a.items().size() < b.items().size() ? -1 : a.items().size() > b.items().size();
    }
    throw EvalError("'<' not supported between instances of '" + type_name(a) + "' and '" +
                    type_name(b) + "'");
}

namespace {

void dump(const Value& v, const JsonOptions& o, int depth, std::string& out) {
    switch (v.type()) {
        case Type::none:
            out += "null";
            return;
        case Type::boolean:
            out += v.as_bool() ? "true" : "false";
            return;
        case Type::integer:
            out += std::to_string(v.as_int());
            return;
        case Type::floating: {
            double d = v.as_double();
            if (std::isnan(d))
                out += "NaN";
            else if (std::isinf(d))
                out += d < 0 ? "-Infinity" : "Infinity";
            else
                out += py_float_repr(d);
            return;
        }
        case Type::string:
            out += json_quote(v.str(), o.ensure_ascii);
            return;
        case Type::list:
        case Type::dict:
            break;
        default:
            throw EvalError("Object of type " + type_name(v) + " is not JSON serializable");
    }
    if (depth > 200) throw EvalError("tojson: value nested too deeply");
    std::string pad, child_pad;
    if (o.has_indent) {
        pad = "\n";
        for (int i = 0; i < depth; ++i)
            pad += o.indent;
        child_pad = pad + o.indent;
    }
    if (v.is_list()) {
        const auto& items = v.items();
        if (items.empty()) {
            out += "[]";
            return;
        }
        out += "[";
        for (size_t i = 0; i < items.size(); ++i) {
            if (i) out += o.item_separator;
            out += child_pad;
            dump(items[i], o, depth + 1, out);
        }
        out += pad + "]";
        return;
    }
    std::vector<const std::pair<std::string, Value>*> items;
    for (const auto& kv : v.dict_data().items)
        items.push_back(&kv);
    if (items.empty()) {
        out += "{}";
        return;
    }
    if (o.sort_keys)
        std::stable_sort(items.begin(), items.end(),
                         [](auto* x, auto* y) { return x->first < y->first; });
    out += "{";
    for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += o.item_separator;
        out += child_pad;
        out += json_quote(items[i]->first, o.ensure_ascii);
        out += o.key_separator;
        dump(items[i]->second, o, depth + 1, out);
    }
    out += pad + "}";
}

}  // namespace

std::string to_json(const Value& v, const JsonOptions& opts) {
    std::string out;
    dump(v, opts, 0, out);
    return out;
}

namespace {

Value from_json_at(const ordered_json& j, int depth) {
    if (depth > 512) throw EvalError("template input nested more than 512 levels deep");
    switch (j.type()) {
        case ordered_json::value_t::null:
            return Value::none();
        case ordered_json::value_t::boolean:
            return Value::boolean(j.get<bool>());
        case ordered_json::value_t::number_integer:
            return Value::integer(j.get<int64_t>());
        case ordered_json::value_t::number_unsigned: {
            uint64_t u = j.get<uint64_t>();
            if (u > static_cast<uint64_t>(INT64_MAX))
                return Value::floating(static_cast<double>(u));
            return Value::integer(static_cast<int64_t>(u));
        }
        case ordered_json::value_t::number_float:
            return Value::floating(j.get<double>());
        case ordered_json::value_t::string:
            return Value::string(j.get<std::string>());
        case ordered_json::value_t::array: {
            std::vector<Value> items;
            items.reserve(j.size());
            for (const auto& e : j)
                items.push_back(from_json_at(e, depth + 1));
            return Value::list(std::move(items));
        }
        case ordered_json::value_t::object: {
            std::vector<std::pair<std::string, Value>> items;
            items.reserve(j.size());
            for (auto it = j.begin(); it != j.end(); ++it)
                items.emplace_back(it.key(), from_json_at(it.value(), depth + 1));
            return Value::dict(std::move(items));
        }
        default:
            return Value::none();  // binary and discarded values never come from JSON text
    }
}

}  // namespace

Value from_json(const ordered_json& j) {
    return from_json_at(j, 0);
}

}  // namespace llmtune::tokenizer::jinja
