#include "data/canonical_record.h"

namespace llmtune::data {

const char* record_kind_name(RecordKind kind) {
    switch (kind) {
        case RecordKind::chat:
            return "chat";
        case RecordKind::text:
            return "text";
        case RecordKind::preference:
            return "preference";
    }
    return "chat";
}

std::optional<RecordKind> canonical_kind(const json& value) {
    if (!value.is_object()) return std::nullopt;
    if (value.contains("messages")) return RecordKind::chat;
    if (value.contains("chosen") && value.contains("rejected") && value.contains("prompt"))
        return RecordKind::preference;
    if (value.contains("text")) return RecordKind::text;
    return std::nullopt;
}

namespace {

// JSON text exactly as nlohmann's dump() writes it (no spaces; \" \\ \b \f \n \r \t, other
// control characters as \u00xx; UTF-8 as is), without its per-byte UTF-8 re-validation: the
// strings here were validated when read. Profiling showed dump() at a sixth of convert time.
void append_string(const std::string& s, std::string& out) {
    out += '"';
    size_t start = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        out.append(s, start, i - start);
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default: {
                static const char hex[] = "0123456789abcdef";
                out += "\\u00";
                out += hex[c >> 4];
                out += hex[c & 15];
            }
        }
        start = i + 1;
    }
    out.append(s, start, std::string::npos);
    out += '"';
}

void append_json(const ordered_json& v, std::string& out) {
    switch (v.type()) {
        case ordered_json::value_t::string:
            append_string(v.get_ref<const std::string&>(), out);
            return;
        case ordered_json::value_t::object: {
            out += '{';
            bool first = true;
            for (auto it = v.begin(); it != v.end(); ++it) {
                if (!first) out += ',';
                first = false;
                append_string(it.key(), out);
                out += ':';
                append_json(it.value(), out);
            }
            out += '}';
            return;
        }
        case ordered_json::value_t::array: {
            out += '[';
            for (size_t i = 0; i < v.size(); ++i) {
                if (i) out += ',';
                append_json(v[i], out);
            }
            out += ']';
            return;
        }
        default:
            out += v.dump();
            return;  // numbers, booleans, null
    }
}

}  // namespace

std::string to_jsonl_line(const CanonicalRecord& record) {
    std::string out;
    out.reserve(256);
    append_json(record.value, out);
    return out;
}

}  // namespace llmtune::data
