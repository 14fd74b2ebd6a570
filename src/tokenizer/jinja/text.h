// Unicode-aware string helpers with Python's semantics, for the Jinja engine.
//
// Template strings are UTF-8. Python's str works on code points, so lengths, indexing,
// slicing, strip() and case mapping here do too. Whitespace is Python's str.isspace() set.
// Case mapping uses the C library's simple (one-to-one) mappings from the C.UTF-8 locale,
// falling back to ASCII when that locale is missing; Python's few one-to-many mappings
// (e.g. "ß".upper() == "SS") are not reproduced.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace llmtune::tokenizer::jinja {

// Decodes UTF-8 into code points; an invalid byte decodes as itself (U+0080..U+00FF range is
// avoided by mapping it to U+FFFD) so that hostile input never throws.
std::u32string utf8_decode(const std::string& s);
std::string utf8_encode(const std::u32string& s);
void utf8_append(std::string& out, char32_t cp);

bool is_space(char32_t c);  // Python str.isspace()
size_t codepoint_count(const std::string& s);

std::string to_upper(const std::string& s);
std::string to_lower(const std::string& s);
std::string py_capitalize(const std::string& s);  // str.capitalize()
std::string py_title(const std::string& s);       // str.title()
std::string jinja_title(const std::string& s);    // Jinja2's |title filter

// str.strip/lstrip/rstrip: with no `chars` (nullptr) strips whitespace.
std::string py_strip(const std::string& s, const std::string* chars, bool left, bool right);
// str.split(sep=None, maxsplit=-1) and str.rsplit.
std::vector<std::string> py_split(const std::string& s, const std::string* sep, int64_t maxsplit);
std::vector<std::string> py_rsplit(const std::string& s, const std::string* sep, int64_t maxsplit);
std::vector<std::string> py_splitlines(const std::string& s, bool keepends);
// str.replace(old, new, count=-1), code point based like Python.
std::string py_replace(const std::string& s, const std::string& from, const std::string& to,
                       int64_t count);
int64_t py_count(const std::string& s, const std::string& sub);
int64_t py_find(const std::string& s, const std::string& sub);  // code point index or -1

// Python repr() of a str, e.g. 'it\'s' -> "it's" with the quote Python would pick.
std::string py_repr_string(const std::string& s);
// JSON string literal as json.dumps(ensure_ascii=...) writes it.
std::string json_quote(const std::string& s, bool ensure_ascii);
// Python repr() of a float ("1.0", "1e-07", "inf").
std::string py_float_repr(double d);

}  // namespace llmtune::tokenizer::jinja
