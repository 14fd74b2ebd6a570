#include "data/jsonl_reader.h"

#include <algorithm>
#include <cstdio>

#include "common/utf8.h"
#include "data/chat_fast_path.h"

namespace llmtune::data {

std::string make_snippet(std::string_view s, size_t max_bytes) {
    bool cut = s.size() > max_bytes;
    if (cut) {
        size_t n = max_bytes;
        // Back up to a character boundary: never split a UTF-8 sequence.
        while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80)
            --n;
        s = s.substr(0, n);
    }
    std::string out = utf8_lossy(s);
    if (cut) out += "...";
    return out;
}

namespace {

// The deepest nesting of arrays and objects in `text` (strings skipped), stopping early once
// past `limit`. nlohmann's parser itself does not bound depth.
int json_depth(std::string_view text, int limit, size_t* where) {
    int depth = 0, deepest = 0;
    bool in_string = false, escape = false;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (in_string) {
            if (escape)
                escape = false;
            else if (c == '\\')
                escape = true;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"')
            in_string = true;
        else if (c == '[' || c == '{') {
            if (++depth > deepest) deepest = depth;
            if (deepest > limit) {
                *where = i;
                return deepest;
            }
        } else if (c == ']' || c == '}')
            --depth;
    }
    return deepest;
}

// Line and column of byte `at` in `text` whose first line is `line`.
std::pair<uint64_t, size_t> position(std::string_view text, uint64_t line, size_t at) {
    size_t line_start = 0;
    for (size_t i = 0; i < at && i < text.size(); ++i)
        if (text[i] == '\n') {
            ++line;
            line_start = i + 1;
        }
    return {line, at - line_start + 1};
}

std::string around(std::string_view text, size_t at) {
    size_t from = at > 40 ? at - 40 : 0;
    while (from > 0 && (static_cast<unsigned char>(text[from]) & 0xC0) == 0x80)
        --from;
    return make_snippet(text.substr(from), 80);
}

void set_error(SourceRecord& out, uint64_t line, std::string code, std::string message,
               std::string snippet) {
    RecordError e;
    e.line = line;
    e.path = out.location.empty() ? "$" : out.location;
    e.code = std::move(code);
    e.message = std::move(message);
    e.snippet = std::move(snippet);
    out.error = std::move(e);
}

}  // namespace

void parse_record_text(std::string_view text, uint64_t line, SourceRecord& out) {
    out.line = line;
    // Raw: made printable (make_snippet) only when an error needs it.
    out.text.assign(text.substr(0, 200));
    out.error.reset();
    out.value = json();
    out.field_columns.clear();
    size_t deep_at = 0;
    // Counting brackets is vectorized; the exact scan runs only when there are enough of them.
    size_t brackets = static_cast<size_t>(std::count(text.begin(), text.end(), '{') +
                                          std::count(text.begin(), text.end(), '['));
    if (brackets > static_cast<size_t>(kMaxJsonDepth) &&
        json_depth(text, kMaxJsonDepth, &deep_at) > kMaxJsonDepth) {
        auto [l, col] = position(text, line, deep_at);
        set_error(out, l, "too_deep",
                  "JSON nested deeper than " + std::to_string(kMaxJsonDepth) +
                      " levels at column " + std::to_string(col),
                  around(text, deep_at));
        return;
    }
    try {
        out.value = json::parse(text.begin(), text.end());
    } catch (const json::parse_error& e) {
        // nlohmann rejects every invalid UTF-8 byte, in strings or not: name the byte.
        size_t bad = find_invalid_utf8(text);
        if (bad != std::string_view::npos) {
            auto [l, col] = position(text, line, bad);
            char hex[8];
            std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned char>(text[bad]));
            set_error(out, l, "invalid_utf8",
                      "invalid UTF-8 at column " + std::to_string(col) + " (byte " + hex + ")",
                      around(text, bad));
            return;
        }
        size_t at = e.byte > 0 ? e.byte - 1 : 0;
        if (at > text.size()) at = text.size();
        auto [l, col] = position(text, line, at);
        std::string what = e.what();
        auto p = what.find("syntax error");
        // nlohmann quotes the bytes it last read, possibly a cut UTF-8 sequence.
        std::string reason = utf8_lossy(p == std::string::npos ? what : what.substr(p));
        set_error(out, l, "invalid_json",
                  "invalid JSON at column " + std::to_string(col) + ": " + reason,
                  around(text, at));
        return;
    } catch (const json::exception& e) {
        set_error(out, line, "invalid_json", "invalid JSON: " + utf8_lossy(e.what()),
                  make_snippet(text, 80));
        return;
    }
    if (!out.value.is_object()) {
        set_error(out, line, "not_an_object",
                  std::string("the record is ") + json_type_name(out.value) +
                      ", not a JSON object such as {\"messages\": [...]}",
                  make_snippet(text, 80));
        out.value = json();
    }
}

JsonlReader::JsonlReader(const std::string& path, size_t max_line_bytes)
    : lines_(path, max_line_bytes) {}

bool JsonlReader::next_text(std::string_view& text, size_t& capacity, uint64_t& line) {
    std::string_view t;
    size_t cap = 0;
    while (lines_.next_view(t, cap, line_, kFastPathPadding)) {
        // Blank lines carry no record; a UTF-8 BOM on the first line is not part of it.
        if (lines_.line_number() == 1 && t.substr(0, 3) == "\xEF\xBB\xBF") {
            t.remove_prefix(3);
            cap -= 3;
        }
        if (t.find_first_not_of(" \t\r") == std::string_view::npos) continue;
        text = t;
        capacity = cap;
        line = lines_.line_number();
        return true;
    }
    return false;
}

bool JsonlReader::next(SourceRecord& out) {
    std::string_view text;
    size_t capacity = 0;
    uint64_t line = 0;
    if (!next_text(text, capacity, line)) return false;
    out.location.clear();
    parse_record_text(text, line, out);
    return true;
}

}  // namespace llmtune::data
