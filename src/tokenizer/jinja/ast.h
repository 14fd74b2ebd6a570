// The syntax tree of a parsed Jinja template.
//
// One node type with a kind tag keeps the tree small; each kind documents which fields it
// uses. `offset` is the byte offset in the normalized source, for error positions.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tokenizer/jinja/value.h"

namespace llmtune::tokenizer::jinja {

struct Node;
using NodePtr = std::unique_ptr<Node>;
using NodeList = std::vector<NodePtr>;

enum class NodeKind {
    // Expressions
    literal,   // value
    name,      // name
    list,      // children = items
    tuple,     // children = items
    dict,      // children = key0, value0, key1, value1, ...
    getattr,   // children[0] = object, name = attribute
    getitem,   // children[0] = object, children[1] = index
    slice,     // children[0] = object, children[1..3] = start, stop, step (may be null)
    call,      // children[0] = callee, args
    filter,    // children[0] = operand (null in a filter block), name, args
    test,      // children[0] = operand, name, args; flag = negated
    unary,     // name = "not" | "-" | "+", children[0]
    binary,    // name = operator (and or + - * / // % ** ~), children[0], children[1]
    compare,   // children[0] = first, then (ops[i], children[i+1]) pairs, chained
    condexpr,  // children = cond, then, else (else may be null)
    // Statements
    text,          // value = literal text
    output,        // children[0] = expression printed
    if_stmt,       // children[0] = test, body, else_body
    for_stmt,      // children = target, iterable, filter (may be null); body, else_body
    set_stmt,      // children = target, value
    set_block,     // children = target, filter chain (may be null); body
    macro,         // name, params, body
    call_block,    // children[0] = call expression, params (caller's), body
    filter_block,  // children[0] = filter chain applied to the body's output, body
    break_stmt,
    continue_stmt,
};

// A call argument, or a macro parameter (name with an optional default in `value`).
struct Arg {
    enum class Kind { positional, keyword, star, double_star } kind = Kind::positional;
    std::string name;
    NodePtr value;
};

struct Node {
    NodeKind kind;
    size_t offset = 0;
    std::string name;
    Value value;
    bool flag = false;
    NodeList children;
    std::vector<std::string> ops;  // compare operators
    std::vector<Arg> args;
    NodeList body, else_body;

    Node(NodeKind k, size_t off) : kind(k), offset(off) {}
};

}  // namespace llmtune::tokenizer::jinja
