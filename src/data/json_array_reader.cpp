#include "data/json_array_reader.h"

#include "common/error.h"
#include "data/jsonl_reader.h"

namespace llmtune::data {

namespace {
const char* kShapeHint =
    "a .json file must be an array of records ([{...}, {...}]) or an object holding one such "
    "array ({\"data\": [...]}); JSONL (one record per line) works too";
}

JsonArrayReader::JsonArrayReader(const std::string& path, size_t max_record_bytes)
    : in_(std::make_unique<InputFile>(path)), max_record_bytes_(max_record_bytes) {}

void JsonArrayReader::fail(const std::string& message) {
    throw_invalid(in_->path() + ": line " + std::to_string(line_) + ": " + message, kShapeHint);
}

int JsonArrayReader::take() {
    int c = in_->get();
    if (c == '\n') ++line_;
    return c;
}

int JsonArrayReader::skip_ws() {
    while (true) {
        int c = in_->peek();
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            take();
        else
            return c;
    }
}

void JsonArrayReader::collect_value(std::string& out, const std::string& what) {
    out.clear();
    uint64_t start_line = line_;
    auto check_size = [&] {
        if (out.size() > max_record_bytes_)
            throw_invalid(in_->path() + ": " + what + " starting at line " +
                              std::to_string(start_line) + " is larger than " +
                              format_bytes(max_record_bytes_),
                          "split the file into smaller records, or convert it to JSONL");
    };
    int c = in_->peek();
    if (c == '{' || c == '[' || c == '"') {
        int depth = 0;
        bool in_string = false, escape = false;
        while (true) {
            int ch = take();
            if (ch < 0)
                throw_invalid(in_->path() + ": the JSON ends inside " + what +
                                  " that starts at line " + std::to_string(start_line),
                              "the file is truncated or a bracket or quote is missing");
            out.push_back(static_cast<char>(ch));
            if ((out.size() & 0xFFFF) == 0) check_size();
            if (in_string) {
                if (escape)
                    escape = false;
                else if (ch == '\\')
                    escape = true;
                else if (ch == '"') {
                    in_string = false;
                    if (depth == 0) break;  // a top-level string value
                }
                continue;
            }
            if (ch == '"')
                in_string = true;
            else if (ch == '{' || ch == '[')
                ++depth;
            else if (ch == '}' || ch == ']') {
                if (--depth == 0) break;
            }
        }
    } else {
        // A scalar: up to the next delimiter.
        while (true) {
            int ch = in_->peek();
            if (ch < 0 || ch == ',' || ch == ']' || ch == '}' || ch == ' ' || ch == '\t' ||
                ch == '\r' || ch == '\n')
                break;
            out.push_back(static_cast<char>(take()));
            if ((out.size() & 0xFFFF) == 0) check_size();
        }
        if (out.empty()) fail("expected a JSON value");
    }
    check_size();
}

void JsonArrayReader::start() {
    started_ = true;
    // A UTF-8 BOM is not part of the document.
    std::string_view b = in_->buffered();
    if (b.size() < 3) in_->refill();
    if (in_->buffered().substr(0, 3) == "\xEF\xBB\xBF") in_->consume(3);
    int c = skip_ws();
    if (c == '[') {
        take();
        return;
    }
    if (c != '{')
        fail(c < 0 ? "the file is empty" : "expected '[' or '{' at the start of the JSON document");
    take();
    in_object_ = true;
    bool first = true;
    while (true) {
        c = skip_ws();
        if (c == '}') fail("the JSON object holds no array of records");
        if (!first) {
            if (c != ',') fail("expected ',' or '}' between the members of the top-level object");
            take();
            c = skip_ws();
        }
        first = false;
        if (c != '"') fail("expected a quoted key in the top-level object");
        collect_value(scratch_, "a key");
        std::string key;
        try {
            key = json::parse(scratch_).get<std::string>();
        } catch (const json::exception&) {
            fail("invalid key " + make_snippet(scratch_, 60));
        }
        if (skip_ws() != ':') fail("expected ':' after the key \"" + key + "\"");
        take();
        if (skip_ws() == '[') {
            take();
            array_key_ = key;
            base_path_ = "$" + std::string(".") + key;
            return;
        }
        collect_value(scratch_, "the value of \"" + key + "\"");
    }
}

void JsonArrayReader::finish() {
    done_ = true;
    if (in_object_) {
        // The members after the records array: metadata, but never a second array.
        while (true) {
            int c = skip_ws();
            if (c == '}') {
                take();
                break;
            }
            if (c != ',') fail("expected ',' or '}' in the top-level object");
            take();
            if (skip_ws() != '"') fail("expected a quoted key in the top-level object");
            collect_value(scratch_, "a key");
            std::string key = make_snippet(scratch_, 60);
            if (skip_ws() != ':') fail("expected ':' after the key " + key);
            take();
            if (skip_ws() == '[')
                throw_invalid(in_->path() + ": line " + std::to_string(line_) +
                                  ": the top-level object holds more than one array (\"" +
                                  array_key_ + "\" and " + key +
                                  "); llmtune cannot tell which holds the records",
                              "keep only the array of records, or convert the records to JSONL");
            collect_value(scratch_, "the value of " + key);
        }
    }
    if (skip_ws() >= 0) fail("unexpected text after the end of the JSON document");
}

bool JsonArrayReader::next(SourceRecord& out) {
    if (done_) return false;
    if (!started_) start();
    int c = skip_ws();
    if (c == ']') {
        take();
        finish();
        return false;
    }
    if (index_ > 0) {
        if (c != ',')
            fail(c < 0 ? "the JSON array is not closed (the file is truncated?)"
                       : "expected ',' or ']' after element " + std::to_string(index_ - 1));
        take();
        c = skip_ws();
    }
    if (c < 0) fail("the JSON array is not closed (the file is truncated?)");
    uint64_t line = line_;
    std::string location = base_path_ + "[" + std::to_string(index_) + "]";
    collect_value(scratch_, "element " + location);
    out.location = location;
    parse_record_text(scratch_, line, out);
    ++index_;
    return true;
}

}  // namespace llmtune::data
