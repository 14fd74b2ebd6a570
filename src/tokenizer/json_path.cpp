#include "tokenizer/json_path.h"

#include "common/error.h"

namespace llmtune::tokenizer {

namespace {
const json& null_json() {
    static const json null_value;
    return null_value;
}

}  // namespace

std::string json_snippet(const json& value) {
    std::string s = value.dump(-1, ' ', false, json::error_handler_t::replace);
    if (s.size() > 80) s = s.substr(0, 77) + "...";
    return s;
}

bool JsonPath::has(const char* key) const {
    if (!value_->is_object()) return false;
    auto it = value_->find(key);
    return it != value_->end() && !it->is_null();
}

JsonPath JsonPath::at(const char* key) const {
    expect_object();
    auto it = value_->find(key);
    std::string child = path_.empty() ? std::string(key) : path_ + "." + key;
    if (it == value_->end())
        throw_invalid(file_ + ": " + child + ": missing",
                      "the tokenizer.json is incomplete; re-save it with the tokenizers library");
    return JsonPath(*it, file_, child);
}

JsonPath JsonPath::at(size_t index) const {
    expect_array();
    std::string child = path_ + "[" + std::to_string(index) + "]";
    if (index >= value_->size()) throw_invalid(file_ + ": " + child + ": index out of range");
    return JsonPath((*value_)[index], file_, child);
}

JsonPath JsonPath::get(const char* key) const {
    std::string child = path_.empty() ? std::string(key) : path_ + "." + key;
    if (value_->is_object()) {
        auto it = value_->find(key);
        if (it != value_->end()) return JsonPath(*it, file_, child);
    }
    return JsonPath(null_json(), file_, child);
}

void JsonPath::expect_object() const {
    if (!value_->is_object()) fail(std::string("expected an object, found ") + json_type_name(*value_));
}

void JsonPath::expect_array() const {
    if (!value_->is_array()) fail(std::string("expected an array, found ") + json_type_name(*value_));
}

std::string JsonPath::string() const {
    if (!value_->is_string()) fail(std::string("expected a string, found ") + json_type_name(*value_));
    return value_->get<std::string>();
}

bool JsonPath::boolean() const {
    if (!value_->is_boolean()) fail(std::string("expected a boolean, found ") + json_type_name(*value_));
    return value_->get<bool>();
}

int64_t JsonPath::integer() const {
    if (!value_->is_number_integer())
        fail(std::string("expected an integer, found ") + json_type_name(*value_));
    return value_->get<int64_t>();
}

double JsonPath::number() const {
    if (!value_->is_number()) fail(std::string("expected a number, found ") + json_type_name(*value_));
    return value_->get<double>();
}

std::string JsonPath::string_or(const char* key, const std::string& fallback) const {
    return has(key) ? at(key).string() : fallback;
}

bool JsonPath::boolean_or(const char* key, bool fallback) const {
    return has(key) ? at(key).boolean() : fallback;
}

int64_t JsonPath::integer_or(const char* key, int64_t fallback) const {
    return has(key) ? at(key).integer() : fallback;
}

void JsonPath::fail(const std::string& what, const std::string& hint) const {
    throw_invalid(
        file_ + ": " + (path_.empty() ? std::string("(top level)") : path_) + ": " + what +
            " (got " + json_snippet(*value_) + ")",
        hint.empty() ? "check the tokenizer file; it may be damaged or hand-edited" : hint);
}

void JsonPath::unsupported(const std::string& kind, const std::string& type) const {
    throw_invalid(
        file_ + ": " + path_ + ": " + kind + " type \"" + type + "\" is not supported by llmtune",
        "llmtune implements the components that Llama, Mistral, Qwen and GPT-2 "
        "tokenizers use; this tokenizer needs one it does not have");
}

}  // namespace llmtune::tokenizer
