// Conversion of one record of a known shape into a canonical record (canonical_record.h),
// checking every field on the way.
//
//   openai_chat        kept as is: roles system/user/assistant/tool/function, content a string
//                      (a list of text parts is joined; null only beside tool_calls), name,
//                      weight 0/1 on assistant messages, tool_calls, tool_call_id, tools
//   prompt_completion  [system?], user: prompt, assistant: completion
//   alpaca             [system?], user: instruction + "\n\n" + input (input when non-empty),
//                      assistant: output
//   sharegpt           from human/user -> user, gpt/assistant -> assistant, system, tool;
//                      value -> content; a top-level "system" string becomes the first message
//   text               {"text"}
//   preference         prompt/chosen/rejected as strings (user / assistant messages) or lists
//                      of messages
//   openai_preference  input.messages -> prompt, preferred_output -> chosen,
//                      non_preferred_output -> rejected, input.tools -> tools
// Keys a shape does not define are dropped with a `dropped_field` warning: nothing is dropped
// silently.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "data/canonical_record.h"
#include "data/record_error.h"
#include "data/shape_detect.h"
#include "data/validation_report.h"

namespace llmtune::data {

struct Conversion {
    std::optional<CanonicalRecord> record;  // set when there are no errors
    std::vector<RecordError> errors;        // line left 0: the caller knows it
    std::vector<RecordWarning> warnings;
};

Conversion convert_record(Shape shape, const json& record);

// Warnings about a conversation's structure: no assistant turn, empty assistant messages,
// a system message not first, role order problems. `what` names the message list in
// messages ("", "chosen", ...); `needs_assistant` is false for a preference prompt.
void check_conversation(const ordered_json& messages, const std::string& what, bool needs_assistant,
                        std::vector<RecordWarning>& out);

// What check_conversation looks at in one canonical message, so that a reader that never
// builds the JSON (chat_fast_path.h) gets the very same warnings.
struct MessageFacts {
    std::string_view role;   // as canonical: system, user, assistant, tool, function
    bool calls = false;      // has tool_calls or function_call
    bool untrained = false;  // weight 0
    bool empty = false;      // content missing, null, or whitespace only
};

void check_conversation(const std::vector<MessageFacts>& messages, const std::string& what,
                        bool needs_assistant, std::vector<RecordWarning>& out);

}  // namespace llmtune::data
