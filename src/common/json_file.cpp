#include "common/json_file.h"

#include <cerrno>
#include <fstream>
#include <sstream>

#include "common/atomic_file.h"
#include "common/error.h"

namespace llmtune {

namespace {

// Turns a byte offset into "line L, column C" plus a short excerpt of that line.
std::string describe_position(const std::string& text, size_t byte) {
    if (byte > text.size()) byte = text.size();
    size_t line = 1, line_start = 0;
    for (size_t i = 0; i < byte; ++i) {
        if (text[i] == '\n') {
            ++line;
            line_start = i + 1;
        }
    }
    size_t line_end = text.find('\n', line_start);
    if (line_end == std::string::npos) line_end = text.size();
    size_t col = byte - line_start + 1;
    // Keep at most 30 bytes either side of the error so a minified file stays readable.
    size_t from = byte > line_start + 30 ? byte - 30 : line_start;
    size_t to = std::min(line_end, byte + 30);
    std::string snippet = text.substr(from, to - from);
    return "line " + std::to_string(line) + ", column " + std::to_string(col) + ": near '" +
           snippet + "'";
}

template <typename Json>
Json parse_impl(const std::string& text, const std::string& source) {
    try {
        return Json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        // nlohmann's byte is 1-based and points just past the offending character.
        size_t byte = e.byte > 0 ? e.byte - 1 : 0;
        std::string what = e.what();
        auto pos = what.find("syntax error");
        std::string reason = pos == std::string::npos ? what : what.substr(pos);
        throw_invalid(
            source + ": invalid JSON at " + describe_position(text, byte) + " (" + reason + ")",
            "fix the JSON syntax; `python3 -m json.tool FILE` shows the same spot");
    } catch (const nlohmann::json::exception& e) {
        // e.g. out_of_range for a number too large for a double
        throw_invalid(source + ": invalid JSON (" + std::string(e.what()) + ")",
                      "fix the offending value");
    }
}

}  // namespace

json parse_json_text(const std::string& text, const std::string& source) {
    return parse_impl<json>(text, source);
}

ordered_json parse_ordered_json_text(const std::string& text, const std::string& source) {
    return parse_impl<ordered_json>(text, source);
}

std::string read_text_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        int err = errno;
        if (err == ENOENT)
            throw Error(ErrorKind::not_found, path + ": no such file",
                        "check the path; relative paths are taken from the current directory");
        throw_io(path + ": cannot open: " + errno_text(err));
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw_io(path + ": read failed: " + errno_text(errno));
    return ss.str();
}

json read_json_file(const std::string& path) {
    return parse_json_text(read_text_file(path), path);
}

ordered_json read_ordered_json_file(const std::string& path) {
    return parse_ordered_json_text(read_text_file(path), path);
}

const char* json_type_name(const json& v) {
    switch (v.type()) {
        case json::value_t::null: return "null";
        case json::value_t::object: return "an object";
        case json::value_t::array: return "an array";
        case json::value_t::string: return "a string";
        case json::value_t::boolean: return "a boolean";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned: return "an integer";
        case json::value_t::number_float: return "a number";
        default: return "an unexpected value";
    }
}

void write_json_file(const std::string& path, const ordered_json& value) {
    write_file_atomic(path, value.dump(2) + "\n");
}

}  // namespace llmtune
