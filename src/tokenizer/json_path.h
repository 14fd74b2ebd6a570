// JsonPath: a JSON value together with the file it came from and its path inside that file,
// so that every complaint about a tokenizer.json names both, e.g.
//   tokenizer.json: pre_tokenizer.pretokenizers[0].behavior: unknown value "Merged" (...)
// The tokenizer components read their configuration through it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/json_file.h"

namespace llmtune::tokenizer {

class JsonPath {
  public:
    JsonPath(const json& value, std::string file, std::string path)
        : value_(&value), file_(std::move(file)), path_(std::move(path)) {}

    const json& value() const { return *value_; }
    const std::string& file() const { return file_; }
    const std::string& path() const { return path_; }

    bool is_null() const { return value_->is_null(); }
    bool has(const char* key) const;  // present and not null

    // A member; throws when `this` is not an object or the member is missing.
    JsonPath at(const char* key) const;
    // An element; throws when `this` is not an array or the index is out of range.
    JsonPath at(size_t index) const;
    // The member if present (possibly null), else a null value with the member's path.
    JsonPath get(const char* key) const;

    void expect_object() const;
    void expect_array() const;

    std::string string() const;  // throws unless a string
    bool boolean() const;        // throws unless a boolean
    int64_t integer() const;     // throws unless an integer
    double number() const;       // throws unless a number

    // Member shorthands: required, and optional with a default (null counts as absent).
    std::string string(const char* key) const { return at(key).string(); }
    std::string string_or(const char* key, const std::string& fallback) const;
    bool boolean_or(const char* key, bool fallback) const;
    int64_t integer_or(const char* key, int64_t fallback) const;

    size_t size() const { return value_->size(); }

    // Throws invalid_input: "<file>: <path>: <what> (got <snippet>)".
    [[noreturn]] void fail(const std::string& what, const std::string& hint = "") const;
    // The error for a component type llmtune does not implement.
    [[noreturn]] void unsupported(const std::string& kind, const std::string& type) const;

  private:
    const json* value_;
    std::string file_;
    std::string path_;
};

// A short, single-line rendering of a JSON value for error messages.
std::string json_snippet(const json& value);

}  // namespace llmtune::tokenizer
