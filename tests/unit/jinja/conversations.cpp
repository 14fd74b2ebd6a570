#include "conversations.h"

namespace llmtune::test::jinja {

namespace {

const char* kSystems[] = {"You are a helpful assistant.", "",
                          "Système : réponds en français. 中文也可以。"};

const char* kUsers[] = {
    "Hello!",
    "What is 2 + 2?",
    "Ünïcödé: ça va? 中文 العربية हिन्दी 😀👩‍👩‍👧 ẞ",
    "Text with {{ jinja }} and {% if x %} tags {% endif %} and {# comments #}",
    "",
    "line one\nline two\n\nline four",
    "Tabs\tand \"double\" 'single' quotes \\ backslash \\n literal",
    "<|im_start|> special-looking <s> [INST] <|eot_id|> tokens </s>",
    "Write a haiku about the sea.",
    "  padded with spaces  ",
};
constexpr int kPaddedUser = 9;

const char* kAssistants[] = {
    "Hi! How can I help you today?",
    "4",
    "Sure:\n```python\nprint('hello')\n```",
    "",
    "Ünïcödé réponse 👍 — «guillemets»",
    "Waves fold on the shore,\nsalt wind carries old stories,\nthe tide keeps its time.",
    "\n  padded assistant reply  \n",
};
constexpr int kPaddedAssistant = 6;

ordered_json msg(const std::string& role, const std::string& content) {
    return {{"role", role}, {"content", content}};
}

Case make_case(const ConversationOptions& o, std::string label, ordered_json messages, bool agp) {
    Case c;
    c.label = std::move(label);
    c.messages = std::move(messages);
    c.add_generation_prompt = agp;
    c.bos_token = o.bos_token;
    c.eos_token = o.eos_token;
    c.extra = o.extra;
    return c;
}

ordered_json tool_schemas() {
    return ordered_json::parse(R"JSON([
      {"type": "function", "function": {"name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {"type": "object", "properties": {
          "location": {"type": "string", "description": "City name, e.g. Paris"},
          "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
          "required": ["location"]}}},
      {"type": "function", "function": {"name": "search_web",
        "description": "Search the web — returns snippets (ünïcode ok)",
        "parameters": {"type": "object", "properties": {
          "query": {"type": "string"}, "max_results": {"type": "integer", "default": 5}},
          "required": ["query"]}}}
    ])JSON");
}

ordered_json tool_call(const std::string& name, const ordered_json& args, bool as_string,
                       const std::string& id) {
    ordered_json fn = {{"name", name}, {"arguments", as_string ? ordered_json(args.dump()) : args}};
    return {{"id", id}, {"type", "function"}, {"function", fn}};
}

}  // namespace

void append(std::vector<Case>& to, const std::vector<Case>& from) {
    to.insert(to.end(), from.begin(), from.end());
}

std::vector<Case> basic_conversations(const ConversationOptions& o) {
    std::vector<Case> out;
    const int n_users = sizeof kUsers / sizeof *kUsers;
    const int n_assist = sizeof kAssistants / sizeof *kAssistants;
    for (int i = 0; i < o.count; ++i) {
        ordered_json m = ordered_json::array();
        bool with_system = o.system && i % 4 != 0;
        if (with_system) m.push_back(msg("system", kSystems[i % 3]));
        int turns = 1 + (i / 4) % 3;
        bool end_assistant = (i / 12) % 2 == 1;
        bool padded = false;
        for (int t = 0; t < turns; ++t) {
            int u = (i * 3 + t * 7) % n_users;
            if (!o.padded_content && u == kPaddedUser) u = 0;
            padded |= u == kPaddedUser;
            m.push_back(msg("user", kUsers[u]));
            if (t + 1 < turns || end_assistant) {
                int a = (i * 5 + t * 3) % n_assist;
                if (!o.padded_content && a == kPaddedAssistant) a = 0;
                padded |= a == kPaddedAssistant;
                m.push_back(msg("assistant", kAssistants[a]));
            }
        }
        bool agp = i % 2 == 1;
        std::string label = std::string(with_system ? "system, " : "") + std::to_string(turns) +
                            " turn(s), ends with " + (end_assistant ? "assistant" : "user") +
                            (agp ? ", generation prompt" : "");
        Case c = make_case(o, label, m, agp);
        c.js_divergent = (padded && o.flag_padded) ||
                         (with_system && kSystems[i % 3][0] == '\0' && o.flag_empty_system);
        out.push_back(std::move(c));
    }
    return out;
}

std::vector<Case> tool_conversations(const ConversationOptions& o, bool string_arguments,
                                     bool null_content) {
    std::vector<Case> out;
    ordered_json tools = tool_schemas();
    ordered_json call_content = null_content ? ordered_json(nullptr) : ordered_json("");
    for (int v = 0; v < 12; ++v) {
        ordered_json m = ordered_json::array();
        if (v % 3 == 1) m.push_back(msg("system", kSystems[0]));
        m.push_back(msg("user", v % 2 ? "What's the weather in Paris and in Zürich?"
                                      : "Weather in Paris please"));
        ordered_json calls = ordered_json::array();
        calls.push_back(tool_call("get_weather", {{"location", "Paris"}, {"unit", "celsius"}},
                                  string_arguments, "call_1"));
        if (v % 2)
            calls.push_back(
                tool_call("get_weather", {{"location", "Zürich"}}, string_arguments, "call_2"));
        if (v >= 2) {
            ordered_json a = {
                {"role", "assistant"}, {"content", call_content}, {"tool_calls", calls}};
            if (v % 4 == 3 && !null_content) a["content"] = "Let me check.";
            m.push_back(a);
            m.push_back({{"role", "tool"},
                         {"tool_call_id", "call_1"},
                         {"name", "get_weather"},
                         {"content", "{\"temperature\": 21, \"sky\": \"clear\"}"}});
            if (v % 2)
                m.push_back({{"role", "tool"},
                             {"tool_call_id", "call_2"},
                             {"name", "get_weather"},
                             {"content", "{\"temperature\": 14, \"sky\": \"rain ☔\"}"}});
        }
        if (v >= 6) m.push_back(msg("assistant", "Paris: 21°C and clear."));
        if (v >= 8) {
            m.push_back(msg("user", "Now search the web for \"best croissant\"."));
            if (v >= 10) {
                ordered_json c2 = ordered_json::array();
                c2.push_back(tool_call("search_web",
                                       {{"query", "best croissant"}, {"max_results", 3}},
                                       string_arguments, "call_3"));
                m.push_back({{"role", "assistant"}, {"content", call_content}, {"tool_calls", c2}});
                m.push_back({{"role", "tool"},
                             {"tool_call_id", "call_3"},
                             {"name", "search_web"},
                             {"content", "1. Du Pain et des Idées"}});
            }
        }
        Case c = make_case(o, "tools variant " + std::to_string(v), m, v % 2 == 0 || v >= 6);
        c.tools = tools;
        out.push_back(std::move(c));
    }
    // Tools given but unused, and tools with no system message.
    Case c =
        make_case(o, "tools defined, plain chat", ordered_json::array({msg("user", "Hi")}), true);
    c.tools = tools;
    out.push_back(c);
    return out;
}

std::vector<Case> reasoning_conversations(const ConversationOptions& o) {
    std::vector<Case> out;
    for (int v = 0; v < 8; ++v) {
        ordered_json m = ordered_json::array();
        if (v % 2) m.push_back(msg("system", kSystems[0]));
        m.push_back(msg("user", "What is 17 * 3?"));
        ordered_json a = msg("assistant", "51");
        if (v < 4)
            a["reasoning_content"] = "17 * 3 = 51.\nDouble-check: 50 + 1.";
        else
            a["content"] = "<think>\n17 * 3 = 51.\n</think>\n\n51";
        m.push_back(a);
        if (v % 4 >= 2) {
            m.push_back(msg("user", "And 18 * 3?"));
            if (v == 7) m.push_back(msg("assistant", "<think>\n\n</think>\n\n54"));
        }
        Case c = make_case(o, "reasoning variant " + std::to_string(v), m, v % 4 >= 2);
        if (v == 2 || v == 6) c.extra["enable_thinking"] = false;
        if (v == 3) c.extra["enable_thinking"] = true;
        out.push_back(std::move(c));
    }
    return out;
}

std::vector<Case> content_part_conversations(const ConversationOptions& o) {
    std::vector<Case> out;
    for (int v = 0; v < 4; ++v) {
        ordered_json m = ordered_json::array();
        if (v % 2)
            m.push_back(
                {{"role", "system"},
                 {"content", ordered_json::array({{{"type", "text"}, {"text", "Be brief."}}})}});
        ordered_json parts = ordered_json::array();
        parts.push_back({{"type", "image"}});
        parts.push_back({{"type", "text"}, {"text", "  What is in this picture? 🖼  "}});
        m.push_back({{"role", "user"}, {"content", parts}});
        if (v >= 2) {
            m.push_back(
                {{"role", "assistant"},
                 {"content", ordered_json::array({{{"type", "text"}, {"text", "A cat."}}})}});
            m.push_back(msg("user", "Thanks!"));
        }
        out.push_back(make_case(o, "content parts variant " + std::to_string(v), m, true));
    }
    return out;
}

std::vector<Case> malformed_conversations(const ConversationOptions& o) {
    std::vector<Case> out;
    out.push_back(make_case(o, "assistant first",
                            ordered_json::array({msg("assistant", "Hi"), msg("user", "Hello")}),
                            false));
    out.push_back(make_case(o, "two users in a row",
                            ordered_json::array({msg("user", "A"), msg("user", "B")}), true));
    return out;
}

}  // namespace llmtune::test::jinja
