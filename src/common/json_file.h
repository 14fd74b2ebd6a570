// Reading and writing JSON files with errors that point at the file, line and column.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace llmtune {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

// Parses `text`; on a syntax error throws invalid_input naming `source`, the line and column,
// and the offending snippet.
json parse_json_text(const std::string& text, const std::string& source);
ordered_json parse_ordered_json_text(const std::string& text, const std::string& source);

// Reads and parses a JSON file. A missing file is not_found; an unreadable one is io.
json read_json_file(const std::string& path);
ordered_json read_ordered_json_file(const std::string& path);

// Reads a whole file into a string (not_found / io errors as above).
std::string read_text_file(const std::string& path);

// "an object", "an array", "a string", "a boolean", "null", "an integer" or "a number":
// for messages such as "expected an object, found an array".
const char* json_type_name(const json& value);

// Writes `value` pretty-printed (2-space indent, trailing newline) atomically.
void write_json_file(const std::string& path, const ordered_json& value);

}  // namespace llmtune
