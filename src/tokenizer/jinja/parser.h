// Parser from tokens to the syntax tree, following Jinja2's grammar and operator precedence
// (lowest first): `a if c else b`, or, and, not, comparisons and `in` (chained), + -, ~,
// * / // %, **, unary - +, then postfix: .attr [index] [a:b:c] (call) |filter `is test`.
//
// Tags: if/elif/else, for (with `if` filter and else), set (plain, namespace attribute,
// block), macro, call, filter, break/continue, generation. Anything else (include, extends,
// block, import, with, recursive loops...) is a syntax error naming the construct. Unknown
// filters and tests are rejected here too, so an unsupported template fails when it is
// loaded rather than rendering different text.
#pragma once

#include <string>

#include "tokenizer/jinja/ast.h"

namespace llmtune::tokenizer::jinja {

// `source` must be normalized (normalize_newlines); error positions refer to it.
NodeList parse_template(const std::string& source);

}  // namespace llmtune::tokenizer::jinja
