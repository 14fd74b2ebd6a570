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

std::string to_jsonl_line(const CanonicalRecord& record) {
    return record.value.dump();
}

}  // namespace llmtune::data
