// The canonical dataset record: what `llmtune data convert` writes, one JSON object a line,
// and what training reads. Three kinds, told apart by their keys:
//
//   chat        {"messages": [{"role", "content", "name"?, "weight"?, "tool_calls"?,
//                "tool_call_id"?}, ...], "tools"?: [...]}
//               roles: system, user, assistant, tool; "weight" (0 or 1) only on assistant
//               messages, where 0 means "context, not trained on".
//   text        {"text": "..."}  (continued pretraining: every token is trained on)
//   preference  {"prompt": [messages], "chosen": [messages], "rejected": [messages],
//                "tools"?: [...]}  (kept for preference training)
#pragma once

#include <optional>
#include <string>

#include "common/json_file.h"

namespace llmtune::data {

enum class RecordKind { chat, text, preference };

const char* record_kind_name(RecordKind kind);

struct CanonicalRecord {
    RecordKind kind = RecordKind::chat;
    ordered_json value;
};

// The kind of a canonical JSON object, from its keys; nullopt when it is none of them.
std::optional<RecordKind> canonical_kind(const json& value);

// The record as one line of canonical JSONL (no trailing newline). Non-ASCII text is written
// as UTF-8, not \u escapes.
std::string to_jsonl_line(const CanonicalRecord& record);

}  // namespace llmtune::data
