// Jinja2's tests (`x is defined`, ...) and the global functions chat templates call.
#include <cmath>
#include <ctime>
#include <map>

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/evaluator.h"
#include "tokenizer/jinja/operators.h"
#include "tokenizer/jinja/text.h"

namespace llmtune::tokenizer::jinja {

namespace {

using TestFn = bool (*)(Evaluator&, const Value&, CallArgs&);

const Value& one_arg(CallArgs& a, const char* test) {
    if (a.positional.size() != 1 || !a.keyword.empty())
        throw EvalError(std::string("the '") + test + "' test takes exactly one argument");
    return a.positional[0];
}
void no_args(CallArgs& a, const char* test) {
    if (!a.positional.empty() || !a.keyword.empty())
        throw EvalError(std::string("the '") + test + "' test takes no arguments");
}

#define SIMPLE_TEST(fname, expr)                          \
    bool fname(Evaluator&, const Value& v, CallArgs& a) { \
        no_args(a, #fname + 2);                           \
        return (expr);                                    \
    }

SIMPLE_TEST(t_defined, !v.is_undefined())
SIMPLE_TEST(t_undefined, v.is_undefined())
SIMPLE_TEST(t_none, v.is_none())
SIMPLE_TEST(t_boolean, v.type() == Type::boolean)
SIMPLE_TEST(t_true, v.type() == Type::boolean && v.as_bool())
SIMPLE_TEST(t_false, v.type() == Type::boolean && !v.as_bool())
SIMPLE_TEST(t_integer, v.type() == Type::integer)
SIMPLE_TEST(t_float, v.type() == Type::floating)
SIMPLE_TEST(t_number, v.is_number())
SIMPLE_TEST(t_string, v.is_string())
SIMPLE_TEST(t_mapping, v.is_dict())
SIMPLE_TEST(t_iterable, v.is_undefined() || v.is_string() || v.is_list() || v.is_dict())
SIMPLE_TEST(t_sequence, v.is_undefined() || v.is_string() || v.is_list() || v.is_dict())
SIMPLE_TEST(t_callable, v.type() == Type::function)
SIMPLE_TEST(t_lower, py_str(v) == to_lower(py_str(v)) && py_str(v) != to_upper(py_str(v)))
SIMPLE_TEST(t_upper, py_str(v) == to_upper(py_str(v)) && py_str(v) != to_lower(py_str(v)))

int64_t modulo(Evaluator& ev, const Value& v, int64_t m) {
    return binary_op(ev, "%", v, Value::integer(m)).as_int();
}
bool t_even(Evaluator& ev, const Value& v, CallArgs& a) {
    no_args(a, "even");
    if (v.type() == Type::floating) return std::fmod(v.as_double(), 2.0) == 0;
    return modulo(ev, v, 2) == 0;
}
bool t_odd(Evaluator& ev, const Value& v, CallArgs& a) {
    no_args(a, "odd");
    if (v.type() == Type::floating) return std::fmod(std::fabs(v.as_double()), 2.0) == 1;
    return modulo(ev, v, 2) == 1;
}
bool t_divisibleby(Evaluator& ev, const Value& v, CallArgs& a) {
    const Value& n = one_arg(a, "divisibleby");
    Value r = binary_op(ev, "%", v, n);
    return r.as_double() == 0;
}
bool t_eq(Evaluator&, const Value& v, CallArgs& a) {
    return equals(v, one_arg(a, "eq"));
}
bool t_ne(Evaluator&, const Value& v, CallArgs& a) {
    return !equals(v, one_arg(a, "ne"));
}
bool t_lt(Evaluator&, const Value& v, CallArgs& a) {
    return compare_op("<", v, one_arg(a, "lt"));
}
bool t_le(Evaluator&, const Value& v, CallArgs& a) {
    return compare_op("<=", v, one_arg(a, "le"));
}
bool t_gt(Evaluator&, const Value& v, CallArgs& a) {
    return compare_op(">", v, one_arg(a, "gt"));
}
bool t_ge(Evaluator&, const Value& v, CallArgs& a) {
    return compare_op(">=", v, one_arg(a, "ge"));
}
bool t_in(Evaluator&, const Value& v, CallArgs& a) {
    return contains(one_arg(a, "in"), v);
}
bool t_sameas(Evaluator&, const Value& v, CallArgs& a) {
    const Value& o = one_arg(a, "sameas");
    if (v.type() != o.type()) return false;
    if (v.identity() || o.identity()) return v.identity() == o.identity();
    return equals(v, o);
}

const std::map<std::string, TestFn>& tests() {
    static const std::map<std::string, TestFn> table = {
        {"boolean", t_boolean},
        {"callable", t_callable},
        {"defined", t_defined},
        {"divisibleby", t_divisibleby},
        {"eq", t_eq},
        {"equalto", t_eq},
        {"even", t_even},
        {"false", t_false},
        {"float", t_float},
        {"ge", t_ge},
        {"gt", t_gt},
        {"greaterthan", t_gt},
        {"in", t_in},
        {"integer", t_integer},
        {"iterable", t_iterable},
        {"le", t_le},
        {"lessthan", t_lt},
        {"lower", t_lower},
        {"lt", t_lt},
        {"mapping", t_mapping},
        {"ne", t_ne},
        {"none", t_none},
        {"number", t_number},
        {"odd", t_odd},
        {"sameas", t_sameas},
        {"sequence", t_sequence},
        {"string", t_string},
        {"true", t_true},
        {"undefined", t_undefined},
        {"upper", t_upper},
    };
    return table;
}

constexpr int64_t kMaxRange = 100000;  // Jinja2's sandbox limit for range()

Value g_range(Evaluator& ev, CallArgs& a) {
    if (!a.keyword.empty()) throw EvalError("range() takes no keyword arguments");
    if (a.positional.empty() || a.positional.size() > 3)
        throw EvalError("range expected 1 to 3 arguments");
    int64_t start = 0, stop, step = 1;
    if (a.positional.size() == 1) {
        stop = expect_int(a.positional[0], "range() argument");
    } else {
        start = expect_int(a.positional[0], "range() start");
        stop = expect_int(a.positional[1], "range() stop");
        if (a.positional.size() == 3) step = expect_int(a.positional[2], "range() step");
    }
    if (step == 0) throw EvalError("range() arg 3 must not be zero");
    long double count = step > 0 ? (static_cast<long double>(stop) - start + step - 1) / step
                                 : (static_cast<long double>(start) - stop - step - 1) / -step;
    if (count > kMaxRange)
        throw EvalError("range too big: more than " + std::to_string(kMaxRange) + " items");
    std::vector<Value> out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
        out.push_back(Value::integer(i));
    ev.note_iterations(0);
    return Value::list(std::move(out));
}

Value dict_from(const std::string& fn, CallArgs& a) {
    if (a.positional.size() > 1)
        throw EvalError(fn + " expected at most 1 positional argument, got " +
                        std::to_string(a.positional.size()));
    auto d = std::make_shared<DictData>();
    if (a.positional.size() == 1) {
        const Value& src = a.positional[0];
        if (src.is_dict()) {
            d->items = src.dict_data().items;
        } else {
            for (const auto& pair : iterate(src)) {
                std::vector<Value> kv = iterate(pair);
                if (kv.size() != 2) throw EvalError(fn + ": each item must be a (key, value) pair");
                d->set(expect_string(kv[0], fn + " key"), kv[1]);
            }
        }
    }
    for (auto& kv : a.keyword)
        d->set(kv.first, kv.second);
    return Value::dict(std::move(d));
}

Value g_namespace(Evaluator&, CallArgs& a) {
    Value d = dict_from("namespace()", a);
    auto data = std::make_shared<DictData>(d.dict_data());
    return Value::ns(std::move(data));
}

Value g_dict(Evaluator&, CallArgs& a) {
    return dict_from("dict()", a);
}

Value g_raise_exception(Evaluator&, CallArgs& a) {
    std::string msg = a.positional.empty() ? "" : py_str(a.positional[0]);
    throw TemplateRaised(msg);
}

Value g_strftime_now(Evaluator&, CallArgs& a) {
    auto p = bind_args("strftime_now", a, {"format"});
    const std::string& fmt = expect_string(p[0], "strftime_now() format");
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    if (fmt.empty()) return Value::string("");
    std::string buf(fmt.size() * 8 + 64, '\0');
    size_t n = std::strftime(&buf[0], buf.size(), fmt.c_str(), &tm);
    if (n == 0) throw EvalError("strftime_now(): the formatted date is too long");
    buf.resize(n);
    return Value::string(buf);
}

}  // namespace

bool is_known_test(const std::string& name) {
    return tests().count(name) > 0;
}

bool apply_test(Evaluator& ev, const std::string& name, const Value& operand, CallArgs& args) {
    auto it = tests().find(name);
    if (it == tests().end()) throw EvalError("unknown or unsupported test '" + name + "'");
    return it->second(ev, operand, args);
}

void install_globals(Scope& globals) {
    globals.vars["range"] = Value::function("range", g_range);
    globals.vars["namespace"] = Value::function("namespace", g_namespace);
    globals.vars["dict"] = Value::function("dict", g_dict);
    globals.vars["raise_exception"] = Value::function("raise_exception", g_raise_exception);
    globals.vars["strftime_now"] = Value::function("strftime_now", g_strftime_now);
}

}  // namespace llmtune::tokenizer::jinja
