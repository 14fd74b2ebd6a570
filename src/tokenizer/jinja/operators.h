// Python's binary operators on Jinja values: + - * / // % ** and comparisons, with int
// overflow reported as an error (Python's ints are unbounded; llmtune's are 64-bit).
#pragma once

#include <string>

#include "tokenizer/jinja/value.h"

namespace llmtune::tokenizer::jinja {

class Evaluator;

// `op` is one of + - * / // % **. Throws EvalError for unsupported operand types.
Value binary_op(Evaluator& ev, const std::string& op, const Value& l, const Value& r);
// `op` is one of == != < <= > >= in "not in".
bool compare_op(const std::string& op, const Value& l, const Value& r);
// Unary minus and plus.
Value negate(const Value& v, bool minus);
// "'name' is undefined", the message for using an undefined value where a value is needed.
std::string undefined_message(const Value& v);

}  // namespace llmtune::tokenizer::jinja
