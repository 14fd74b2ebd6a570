// Deterministic conversation sets for chat-template parity tests: with and without a system
// message, one to three turns, ending on a user or an assistant turn, add_generation_prompt
// on and off, and content that is empty, unicode, multi-line, padded, or looks like Jinja or
// special tokens. Tool and reasoning sets follow the OpenAI / transformers message shapes.
#pragma once

#include <string>
#include <vector>

#include "reference_harness.h"

namespace llmtune::test::jinja {

struct ConversationOptions {
    std::string bos_token, eos_token;
    int count = 64;              // basic conversations
    bool system = true;          // also generate system messages
    bool padded_content = true;  // content with leading/trailing whitespace
    bool flag_padded = false;    // mark those cases js_divergent (the template strips with chars)
    bool flag_empty_system = false;  // mark cases with an empty system message js_divergent
    ordered_json extra = ordered_json::object();
};

std::vector<Case> basic_conversations(const ConversationOptions& o);

// Tool schemas, assistant tool_calls (arguments as objects, or JSON strings when
// `string_arguments`), tool results, and answers; `null_content` gives tool-calling assistant
// turns content null instead of "".
std::vector<Case> tool_conversations(const ConversationOptions& o, bool string_arguments,
                                     bool null_content);

// Assistant turns with reasoning_content or <think> blocks, and enable_thinking on/off.
std::vector<Case> reasoning_conversations(const ConversationOptions& o);

// Content given as a list of parts ({"type": "text"} and {"type": "image"}).
std::vector<Case> content_part_conversations(const ConversationOptions& o);

// Conversations a strict template must reject: assistant first, two users in a row.
std::vector<Case> malformed_conversations(const ConversationOptions& o);

void append(std::vector<Case>& to, const std::vector<Case>& from);

}  // namespace llmtune::test::jinja
