#include "tokenizer/jinja/operators.h"

#include <cmath>

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/evaluator.h"

namespace llmtune::tokenizer::jinja {

namespace {

[[noreturn]] void unsupported(const std::string& op, const Value& l, const Value& r) {
    throw EvalError("unsupported operand type(s) for " + op + ": '" + type_name(l) + "' and '" +
                    type_name(r) + "'");
}

bool is_intlike(const Value& v) {
    return v.type() == Type::integer || v.type() == Type::boolean;
}

Value repeat(Evaluator& ev, const Value& seq, int64_t n) {
    if (n <= 0) return seq.is_string() ? Value::string("") : Value::list({}, seq.is_tuple());
    size_t unit = seq.is_string() ? seq.str().size() : seq.items().size();
    if (unit > 0 && static_cast<uint64_t>(n) > ev.limits().max_string_bytes / unit)
        throw EvalError("repetition result is larger than " +
                        std::to_string(ev.limits().max_string_bytes) + " bytes");
    if (seq.is_string()) {
        std::string out;
        out.reserve(unit * static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i)
            out += seq.str();
        ev.note_string(out.size());
        return Value::string(std::move(out));
    }
    std::vector<Value> out;
    for (int64_t i = 0; i < n; ++i)
        out.insert(out.end(), seq.items().begin(), seq.items().end());
    return Value::list(std::move(out), seq.is_tuple());
}

int64_t checked(bool overflow, int64_t v) {
    if (overflow) throw EvalError("integer overflow (llmtune's template integers are 64-bit)");
    return v;
}

// Arguments are evaluated in an unspecified order, so the overflow check must complete
// before the result is read.
int64_t arith_add(int64_t a, int64_t b) {
    int64_t r = 0;
    bool overflow = __builtin_add_overflow(a, b, &r);
    return checked(overflow, r);
}
int64_t arith_sub(int64_t a, int64_t b) {
    int64_t r = 0;
    bool overflow = __builtin_sub_overflow(a, b, &r);
    return checked(overflow, r);
}
int64_t arith_mul(int64_t a, int64_t b) {
    int64_t r = 0;
    bool overflow = __builtin_mul_overflow(a, b, &r);
    return checked(overflow, r);
}

}  // namespace

std::string undefined_message(const Value& v) {
    if (!v.str().empty()) return "'" + v.str() + "' is undefined";
    return "a value used here is undefined";
}

Value negate(const Value& v, bool minus) {
    if (v.is_undefined()) throw EvalError(undefined_message(v));
    if (v.type() == Type::floating) return Value::floating(minus ? -v.as_double() : v.as_double());
    if (!is_intlike(v))
        throw EvalError(std::string("bad operand type for unary ") + (minus ? "-" : "+") + ": '" +
                        type_name(v) + "'");
    if (!minus) return Value::integer(v.as_int());
    if (v.as_int() == INT64_MIN) checked(true, 0);
    return Value::integer(-v.as_int());
}

Value binary_op(Evaluator& ev, const std::string& op, const Value& l, const Value& r) {
    if (l.is_undefined()) throw EvalError(undefined_message(l));
    if (r.is_undefined()) throw EvalError(undefined_message(r));
    char c = op[0];
    if (l.is_number() && r.is_number()) {
        bool ints = is_intlike(l) && is_intlike(r);
        int64_t a = l.as_int(), b = r.as_int();
        double x = l.as_double(), y = r.as_double();
        if (op == "+") return ints ? Value::integer(arith_add(a, b)) : Value::floating(x + y);
        if (op == "-") return ints ? Value::integer(arith_sub(a, b)) : Value::floating(x - y);
        if (op == "*") return ints ? Value::integer(arith_mul(a, b)) : Value::floating(x * y);
        if (op == "/") {
            if (y == 0) throw EvalError("division by zero");
            return Value::floating(x / y);
        }
        if (op == "//" || op == "%") {
            if (ints) {
                if (b == 0) throw EvalError("integer division or modulo by zero");
                if (a == INT64_MIN && b == -1) checked(true, 0);
                int64_t q = a / b, m = a % b;
                if (m != 0 && ((m < 0) != (b < 0))) {
                    --q;
                    m += b;
                }
                return Value::integer(op == "//" ? q : m);
            }
            if (y == 0) throw EvalError("float division or modulo by zero");
            double m = std::fmod(x, y);
            if (m != 0 && ((m < 0) != (y < 0))) m += y;
            if (op == "%") return Value::floating(m);
            double div = (x - m) / y, fl = std::floor(div);
            if (div - fl > 0.5) fl += 1;
            return Value::floating(fl);
        }
        if (op == "**") {
            if (ints && b >= 0) {
                int64_t out = 1, base = a;
                for (int64_t e = b; e > 0; e >>= 1) {
                    if (e & 1) out = arith_mul(out, base);
                    if (e > 1) base = arith_mul(base, base);
                }
                return Value::integer(out);
            }
            if (x == 0 && y < 0) throw EvalError("0.0 cannot be raised to a negative power");
            double p = std::pow(x, y);
            if (std::isnan(p)) throw EvalError("the power has no real result");
            return Value::floating(p);
        }
    }
    if (c == '+') {
        if (l.is_string() && r.is_string()) {
            ev.note_string(l.str().size() + r.str().size());
            return Value::string(l.str() + r.str());
        }
        if (l.is_list() && r.is_list() && l.is_tuple() == r.is_tuple()) {
            std::vector<Value> out = l.items();
            out.insert(out.end(), r.items().begin(), r.items().end());
            return Value::list(std::move(out), l.is_tuple());
        }
        if (l.is_string() && !r.is_string())
            throw EvalError("can only concatenate str (not \"" + type_name(r) + "\") to str");
    }
    if (op == "*") {
        if ((l.is_string() || l.is_list()) && is_intlike(r)) return repeat(ev, l, r.as_int());
        if ((r.is_string() || r.is_list()) && is_intlike(l)) return repeat(ev, r, l.as_int());
    }
    if (op == "%" && l.is_string())
        throw EvalError("printf-style formatting ('...' % value) is not supported");
    unsupported(op, l, r);
}

bool compare_op(const std::string& op, const Value& l, const Value& r) {
    if (op == "==") return equals(l, r);
    if (op == "!=") return !equals(l, r);
    if (op == "in") return contains(r, l);
    if (op == "not in") return !contains(r, l);
    if (l.is_undefined()) throw EvalError(undefined_message(l));
    if (r.is_undefined()) throw EvalError(undefined_message(r));
    int c;
    try {
        c = compare(l, r);
    } catch (const EvalError&) {
        throw EvalError("'" + op + "' not supported between instances of '" + type_name(l) +
                        "' and '" + type_name(r) + "'");
    }
    if (op == "<") return c < 0;
    if (op == "<=") return c <= 0;
    if (op == ">") return c > 0;
    return c >= 0;
}

}  // namespace llmtune::tokenizer::jinja
