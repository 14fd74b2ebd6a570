#include "data/convert.h"

#include <set>

namespace llmtune::data {

namespace {

// obj[key], or null when absent (operator[] on a const json must not be used for that).
const json& field(const json& obj, const char* key) {
    static const json null;
    auto it = obj.find(key);
    return it == obj.end() ? null : *it;
}

class Converter {
  public:
    explicit Converter(Conversion& c) : c_(c) {}

    void error(const std::string& path, const std::string& code, const std::string& message,
               const json* value = nullptr) {
        RecordError e;
        e.path = path;
        e.code = code;
        e.message = message;
        if (value)
            e.snippet =
                make_snippet(value->dump(-1, ' ', false, json::error_handler_t::replace), 80);
        c_.errors.push_back(std::move(e));
    }
    void warn(const std::string& code, const std::string& message) {
        c_.warnings.push_back(RecordWarning{0, code, message});
    }
    bool ok() const { return c_.errors.empty(); }

    // Reports top-level keys outside `allowed` as dropped.
    void drop_unknown(const json& obj, const std::string& path,
                      std::initializer_list<const char*> allowed) {
        for (auto it = obj.begin(); it != obj.end(); ++it) {
            bool known = false;
            for (const char* k : allowed)
                known = known || it.key() == k;
            if (!known)
                warn("dropped_field",
                     path + "." + it.key() + " is not part of the shape and was dropped");
        }
    }

    // A required string field; nullptr (with an error) when missing or not a string.
    const std::string* string_field(const json& obj, const char* key, const std::string& path,
                                    bool required = true) {
        std::string p = path + "." + key;
        auto it = obj.find(key);
        if (it == obj.end() || it->is_null()) {
            if (required) error(p, "missing_field", std::string("\"") + key + "\" is missing");
            return nullptr;
        }
        if (!it->is_string()) {
            error(p, "invalid_field",
                  std::string("\"") + key + "\" must be a string, not " + it->type_name(), &*it);
            return nullptr;
        }
        return it->get_ptr<const std::string*>();
    }

    // Content: a string, or a list of {"type": "text", "text": ...} parts joined together.
    std::optional<std::string> content(const json& v, const std::string& p) {
        if (v.is_string()) return v.get<std::string>();
        if (v.is_array()) {
            std::string out;
            for (size_t i = 0; i < v.size(); ++i) {
                const json& part = v[i];
                std::string pp = p + "[" + std::to_string(i) + "]";
                if (!part.is_object() || part.value("type", json()) != "text" ||
                    !part.contains("text") || !part["text"].is_string()) {
                    error(pp, "invalid_field",
                          "only text content parts ({\"type\": \"text\", \"text\": ...}) are "
                          "supported",
                          &part);
                    return std::nullopt;
                }
                out += part["text"].get<std::string>();
            }
            return out;
        }
        error(p, "invalid_field",
              std::string("content must be a string or a list of text parts, not ") + v.type_name(),
              &v);
        return std::nullopt;
    }

    // One OpenAI message into canonical form.
    ordered_json message(const json& m, const std::string& p) {
        ordered_json out;
        if (!m.is_object()) {
            error(p, "invalid_field",
                  std::string("a message must be an object, not ") + m.type_name(), &m);
            return out;
        }
        const std::string* role = string_field(m, "role", p);
        if (!role) return out;
        static const std::set<std::string> roles = {"system", "user", "assistant", "tool",
                                                    "function"};
        if (!roles.count(*role)) {
            error(p + ".role", "invalid_field",
                  "unknown role \"" + *role + "\"; use system, user, assistant, tool or function",
                  &m["role"]);
            return out;
        }
        out["role"] = *role;
        bool assistant = *role == "assistant";
        bool has_calls =
            assistant && ((m.contains("tool_calls") && !m["tool_calls"].is_null()) ||
                          (m.contains("function_call") && !m["function_call"].is_null()));
        auto ct = m.find("content");
        if (ct == m.end() || ct->is_null()) {
            if (!has_calls) {
                error(p + ".content", "missing_field", "\"content\" is missing");
                return out;
            }
            out["content"] = nullptr;
        } else if (auto text = content(*ct, p + ".content")) {
            out["content"] = *text;
        }
        if (m.contains("name")) {
            if (const std::string* name = string_field(m, "name", p)) out["name"] = *name;
        }
        if (m.contains("tool_calls") && !m["tool_calls"].is_null()) {
            if (!assistant)
                error(p + ".tool_calls", "invalid_field",
                      "only assistant messages can have tool_calls");
            else if (!m["tool_calls"].is_array())
                error(p + ".tool_calls", "invalid_field", "tool_calls must be a list",
                      &m["tool_calls"]);
            else
                out["tool_calls"] = m["tool_calls"];
        }
        if (m.contains("function_call") && !m["function_call"].is_null()) {
            if (!assistant || !m["function_call"].is_object())
                error(p + ".function_call", "invalid_field",
                      "function_call must be an object on an assistant message",
                      &m["function_call"]);
            else
                out["function_call"] = m["function_call"];
        }
        if (m.contains("tool_call_id")) {
            if (const std::string* id = string_field(m, "tool_call_id", p))
                out["tool_call_id"] = *id;
        }
        if (m.contains("weight")) {
            const json& w = m["weight"];
            bool valid = (w.is_number_integer() || w.is_number_unsigned() || w.is_number_float()) &&
                         (w.get<double>() == 0 || w.get<double>() == 1);
            if (!assistant)
                error(p + ".weight", "invalid_field",
                      "weight is only allowed on assistant messages", &w);
            else if (!valid)
                error(p + ".weight", "invalid_field", "weight must be 0 or 1", &w);
            else
                out["weight"] = static_cast<int>(w.get<double>());
        }
        for (auto it = m.begin(); it != m.end(); ++it) {
            static const std::set<std::string> known = {
                "role", "content", "name", "tool_calls", "function_call", "tool_call_id", "weight"};
            if (!known.count(it.key()))
                warn("dropped_field",
                     p + "." + it.key() + " is not a message field and was dropped");
        }
        return out;
    }

    // A list of OpenAI messages.
    ordered_json messages(const json& v, const std::string& p, bool allow_empty = false) {
        ordered_json out = ordered_json::array();
        if (!v.is_array()) {
            error(p, "invalid_field",
                  std::string("must be a list of messages, not ") + v.type_name(), &v);
            return out;
        }
        if (v.empty() && !allow_empty) {
            error(p, "invalid_field", "the list of messages is empty");
            return out;
        }
        for (size_t i = 0; i < v.size(); ++i)
            out.push_back(message(v[i], p + "[" + std::to_string(i) + "]"));
        return out;
    }

    // Preference side: a string (one message of `role`) or a list of messages.
    ordered_json side(const json& obj, const char* key, const char* role) {
        std::string p = std::string("$.") + key;
        auto it = obj.find(key);
        if (it == obj.end()) {
            error(p, "missing_field", std::string("\"") + key + "\" is missing");
            return ordered_json::array();
        }
        if (it->is_string())
            return ordered_json::array({{{"role", role}, {"content", it->get<std::string>()}}});
        if (it->is_object()) return messages(json::array({*it}), p);
        return messages(*it, p);
    }

    void tools(const json& obj, const std::string& p, ordered_json& out) {
        auto it = obj.find("tools");
        if (it == obj.end() || it->is_null()) return;
        if (!it->is_array())
            error(p + ".tools", "invalid_field", "tools must be a list of tool schemas", &*it);
        else
            out["tools"] = *it;
    }

  private:
    Conversion& c_;
};

ordered_json msg(const char* role, const std::string& content) {
    return {{"role", role}, {"content", content}};
}

}  // namespace

Conversion convert_record(Shape shape, const json& r) {
    Conversion c;
    Converter cv(c);
    ordered_json out;
    RecordKind kind = RecordKind::chat;
    switch (shape) {
        case Shape::openai_chat: {
            cv.drop_unknown(r, "$", {"messages", "tools"});
            auto it = r.find("messages");
            if (it == r.end()) {
                cv.error("$.messages", "missing_field", "\"messages\" is missing");
                break;
            }
            out["messages"] = cv.messages(*it, "$.messages");
            cv.tools(r, "$", out);
            break;
        }
        case Shape::prompt_completion: {
            cv.drop_unknown(r, "$", {"prompt", "completion", "system"});
            const std::string* sys = cv.string_field(r, "system", "$", false);
            const std::string* prompt = cv.string_field(r, "prompt", "$");
            const std::string* completion = cv.string_field(r, "completion", "$");
            if (!cv.ok()) break;
            out["messages"] = ordered_json::array();
            if (sys) out["messages"].push_back(msg("system", *sys));
            out["messages"].push_back(msg("user", *prompt));
            out["messages"].push_back(msg("assistant", *completion));
            break;
        }
        case Shape::alpaca: {
            cv.drop_unknown(r, "$", {"instruction", "input", "output", "system"});
            const std::string* sys = cv.string_field(r, "system", "$", false);
            const std::string* instruction = cv.string_field(r, "instruction", "$");
            const std::string* input = cv.string_field(r, "input", "$", false);
            const std::string* output = cv.string_field(r, "output", "$");
            if (!cv.ok()) break;
            std::string user = *instruction;
            if (input && input->find_first_not_of(" \t\r\n") != std::string::npos)
                user += "\n\n" + *input;
            out["messages"] = ordered_json::array();
            if (sys) out["messages"].push_back(msg("system", *sys));
            out["messages"].push_back(msg("user", user));
            out["messages"].push_back(msg("assistant", *output));
            break;
        }
        case Shape::sharegpt: {
            cv.drop_unknown(r, "$", {"conversations", "system", "tools"});
            const std::string* sys = cv.string_field(r, "system", "$", false);
            const json& conv = field(r, "conversations");
            if (!conv.is_array() || conv.empty()) {
                cv.error("$.conversations", "invalid_field",
                         "conversations must be a non-empty list", &conv);
                break;
            }
            json messages = json::array();  // one per turn, so paths keep the turn's index
            for (size_t i = 0; i < conv.size(); ++i) {
                std::string p = "$.conversations[" + std::to_string(i) + "]";
                const json& t = conv[i];
                if (!t.is_object()) {
                    cv.error(p, "invalid_field",
                             std::string("a turn must be an object, not ") + t.type_name(), &t);
                    continue;
                }
                const std::string* from = cv.string_field(t, "from", p);
                const std::string* value = cv.string_field(t, "value", p);
                if (!from || !value) continue;
                std::string role;
                if (*from == "human" || *from == "user")
                    role = "user";
                else if (*from == "gpt" || *from == "assistant")
                    role = "assistant";
                else if (*from == "system")
                    role = "system";
                else if (*from == "tool" || *from == "function" || *from == "observation")
                    role = "tool";
                else {
                    cv.error(p + ".from", "invalid_field",
                             "unknown speaker \"" + *from + "\"; use human, gpt, system or tool",
                             &t["from"]);
                    continue;
                }
                json m = {{"role", role}, {"content", *value}};
                if (t.contains("weight")) m["weight"] = t["weight"];
                for (auto it = t.begin(); it != t.end(); ++it)
                    if (it.key() != "from" && it.key() != "value" && it.key() != "weight")
                        cv.warn(
                            "dropped_field",
                            p + "." + it.key() + " is not a ShareGPT turn field and was dropped");
                messages.push_back(std::move(m));
            }
            if (!cv.ok()) break;
            out["messages"] = cv.messages(messages, "$.conversations");
            if (sys) out["messages"].insert(out["messages"].begin(), msg("system", *sys));
            break;
        }
        case Shape::text: {
            kind = RecordKind::text;
            cv.drop_unknown(r, "$", {"text"});
            const std::string* text = cv.string_field(r, "text", "$");
            if (text && text->find_first_not_of(" \t\r\n") == std::string::npos)
                cv.error("$.text", "empty_text", "the text is empty or whitespace only",
                         &field(r, "text"));
            if (!cv.ok()) break;
            out["text"] = *text;
            break;
        }
        case Shape::preference: {
            kind = RecordKind::preference;
            cv.drop_unknown(r, "$", {"prompt", "chosen", "rejected", "system", "tools"});
            const std::string* sys = cv.string_field(r, "system", "$", false);
            ordered_json prompt = cv.side(r, "prompt", "user");
            if (sys) prompt.insert(prompt.begin(), msg("system", *sys));
            out["prompt"] = prompt;
            out["chosen"] = cv.side(r, "chosen", "assistant");
            out["rejected"] = cv.side(r, "rejected", "assistant");
            cv.tools(r, "$", out);
            break;
        }
        case Shape::openai_preference: {
            kind = RecordKind::preference;
            cv.drop_unknown(r, "$", {"input", "preferred_output", "non_preferred_output"});
            const json& in = field(r, "input");
            if (!in.is_object() || !in.contains("messages")) {
                cv.error("$.input", "invalid_field", "input must be an object holding \"messages\"",
                         &in);
                break;
            }
            for (auto it = in.begin(); it != in.end(); ++it)
                if (it.key() != "messages" && it.key() != "tools")
                    cv.warn("dropped_field",
                            "$.input." + it.key() + " is not part of the shape and was dropped");
            out["prompt"] = cv.messages(field(in, "messages"), "$.input.messages");
            out["chosen"] = cv.messages(field(r, "preferred_output"), "$.preferred_output");
            out["rejected"] =
                cv.messages(field(r, "non_preferred_output"), "$.non_preferred_output");
            cv.tools(in, "$.input", out);
            break;
        }
    }
    if (!cv.ok()) return c;
    if (kind == RecordKind::chat) check_conversation(out["messages"], "", true, c.warnings);
    if (kind == RecordKind::preference) {
        check_conversation(out["prompt"], "prompt", false, c.warnings);
        check_conversation(out["chosen"], "chosen", true, c.warnings);
        check_conversation(out["rejected"], "rejected", true, c.warnings);
        if (out["chosen"] == out["rejected"])
            c.warnings.push_back({0, "same_chosen_rejected", "chosen and rejected are identical"});
    }
    c.record = CanonicalRecord{kind, std::move(out)};
    return c;
}

}  // namespace llmtune::data
