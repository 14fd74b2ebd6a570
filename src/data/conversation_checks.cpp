// check_conversation (declared in convert.h): warnings about a conversation's structure.
#include "data/convert.h"

namespace llmtune::data {

namespace {

bool blank(const ordered_json& content) {
    if (!content.is_string()) return false;
    return content.get_ref<const std::string&>().find_first_not_of(" \t\r\n") == std::string::npos;
}

// "message 2 (user)"
std::string at(size_t i, std::string_view role) {
    return "message " + std::to_string(i) + " (" + std::string(role) + ")";
}

}  // namespace

void check_conversation(const ordered_json& messages, const std::string& what, bool needs_assistant,
                        std::vector<RecordWarning>& out) {
    std::vector<MessageFacts> facts;
    facts.reserve(messages.size());
    static const std::string none;
    for (const auto& m : messages) {
        MessageFacts f;
        auto role = m.find("role");
        f.role = role != m.end() && role->is_string()
                     ? std::string_view(role->get_ref<const std::string&>())
                     : std::string_view(none);
        f.calls = m.contains("tool_calls") || m.contains("function_call");
        f.untrained = m.value("weight", 1) == 0;
        f.empty = !m.contains("content") || m["content"].is_null() || blank(m["content"]);
        facts.push_back(f);
    }
    check_conversation(facts, what, needs_assistant, out);
}

void check_conversation(const std::vector<MessageFacts>& messages, const std::string& what,
                        bool needs_assistant, std::vector<RecordWarning>& out) {
    std::string base = what.empty() ? "" : what + ": ";
    auto warn = [&](const char* code, const std::string& message) {
        out.push_back({0, code, base + message});
    };
    bool any_assistant = false, any_trainable = false;
    std::string_view prev;
    bool prev_calls = false;
    for (size_t i = 0; i < messages.size(); ++i) {
        const MessageFacts& m = messages[i];
        const std::string_view role = m.role;
        bool calls = m.calls;
        if (role == "assistant") {
            any_assistant = true;
            if (!m.untrained) any_trainable = true;
            if (!calls && m.empty)
                warn("empty_assistant", at(i, role) + " is empty or whitespace only");
        }
        if (role == "system" && i > 0) {
            bool after_system_only = true;
            for (size_t k = 0; k < i; ++k)
                after_system_only = after_system_only && messages[k].role == "system";
            if (!after_system_only)
                warn("system_not_first", at(i, role) +
                                             " comes after other messages; most chat templates "
                                             "expect the system message first");
        }
        if (role == "user" && prev == "user")
            warn("role_order", at(i, role) + " follows another user message");
        if (role == "assistant" && prev == "assistant" && !prev_calls)
            warn("role_order", at(i, role) + " follows another assistant message");
        if (role == "assistant" && prev != "user" && prev != "tool" && prev != "function" &&
            prev != "assistant" && what.empty())
            warn("role_order",
                 at(i, role) +
                     " answers no user message (the conversation starts with the assistant)");
        if ((role == "tool" || role == "function") &&
            !(prev_calls || prev == "tool" || prev == "function"))
            warn("role_order",
                 at(i, role) + " does not follow an assistant message with tool calls");
        prev = role;
        prev_calls = calls;
    }
    if (needs_assistant && !any_assistant)
        warn("no_assistant", "the conversation has no assistant message: nothing to train on");
    else if (needs_assistant && !any_trainable)
        warn("no_trainable", "every assistant message has weight 0: nothing to train on");
    if (what.empty() && any_assistant && !prev.empty() && prev != "assistant")
        warn("role_order", "the conversation ends with a " + std::string(prev) +
                               " message that is not trained on");
}

}  // namespace llmtune::data
