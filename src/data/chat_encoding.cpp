#include "data/chat_encoding.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "common/error.h"
#include "tokenizer/jinja/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace llmtune::data {

// A character range of the rendered conversation and whether its tokens carry loss.
struct ExampleEncoder::Span {
    size_t begin = 0, end = 0;
    bool trained = false;
};

namespace {

// U+E000 (private use) around a marker: text no dataset or template is expected to hold.
const std::string kSentinel = "\xEE\x80\x80llmtune-message-end\xEE\x80\x80";

bool starts_with(const std::string& s, const std::string& prefix) {
    return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

std::string prefixed(const std::string& where, const std::string& message) {
    return where.empty() ? message : where + ": " + message;
}

std::vector<int32_t> to_int32(const std::vector<int64_t>& ids) {
    std::vector<int32_t> out(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
        LLMTUNE_ASSERT(ids[i] >= 0 && ids[i] <= std::numeric_limits<int32_t>::max(),
                       "token id out of int32 range");
        out[i] = static_cast<int32_t>(ids[i]);
    }
    return out;
}

size_t common_prefix(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
    size_t n = 0;
    while (n < a.size() && n < b.size() && a[n] == b[n])
        ++n;
    return n;
}

size_t common_suffix(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
    size_t n = 0;
    while (n < a.size() && n < b.size() && a[a.size() - 1 - n] == b[b.size() - 1 - n])
        ++n;
    return n;
}

// The 0/1 weight of a message ("weight" absent means 1).
int message_weight(const ordered_json& m, size_t index, const std::string& where) {
    if (!m.is_object() || !m.contains("weight")) return 1;
    const auto& w = m["weight"];
    if (w.is_number_integer() || w.is_number_unsigned()) {
        auto v = w.get<int64_t>();
        if (v == 0 || v == 1) return static_cast<int>(v);
    }
    if (w.is_number_float() && (w.get<double>() == 0.0 || w.get<double>() == 1.0))
        return static_cast<int>(w.get<double>());
    throw_invalid(prefixed(where, "message " + std::to_string(index) + " has weight " + w.dump() +
                                      "; weight must be 0 or 1"));
}

// Where a span boundary falls in the whole tokenization: before token `index`, or inside it
// when `inside` (that token holds characters of both sides).
struct TokenBoundary {
    size_t index = 0;
    bool inside = false;
};

}  // namespace

ExampleEncoder::ExampleEncoder(const std::string& model_dir, const EncodeOptions& options)
    : model_dir_(model_dir), options_(options) {
    if (options_.max_seq_len < 1)
        throw_invalid("max_seq_len must be at least 1, got " + std::to_string(options_.max_seq_len));
    tokenizer_ = tokenizer::Tokenizer::load(model_dir);
    base_inputs_ = std::make_unique<tokenizer::ChatTemplateInputs>();
    try {
        template_ = std::make_unique<tokenizer::ChatTemplate>(
            tokenizer::ChatTemplate::from_tokenizer_config(model_dir));
        tokenizer::load_special_tokens(model_dir, *base_inputs_);
    } catch (const Error& e) {
        if (e.kind() != ErrorKind::not_found) throw;  // no template: text records only
    }
}

ExampleEncoder::~ExampleEncoder() = default;

std::string ExampleEncoder::template_name() const {
    return "the chat template of " + model_dir_;
}

std::string ExampleEncoder::render(const ordered_json& messages, const ordered_json& tools,
                                   bool generation_prompt, const std::string& where) const {
    tokenizer::ChatTemplateInputs in = *base_inputs_;
    in.messages = messages;
    in.add_generation_prompt = generation_prompt;
    if (!tools.is_null()) in.tools = tools;
    try {
        return template_->render(in);
    } catch (const Error& e) {
        throw Error(e.kind(), prefixed(where, template_name() + ": " + e.message()), e.hint());
    }
}

// Where assistant message i's turn ends in `rendered` (the render of `conversation`, whose
// first i+1 messages are messages[:i+1] and in which the turn starts at `start`), when the
// template writes the turn differently once later messages follow. `last_turn` is the turn's
// text when the message is last (render(messages[:i+1]) from `start` on).
//   content a non-empty string: a sentinel appended to the content marks where it ends (the
//     render with the sentinel removed must equal `rendered`), and the text the template
//     writes after the content when the message is last must follow it there too;
//   empty or no content (e.g. only tool calls): the turn must be written as a suffix of
//     `last_turn` (the template dropped something before the content, as Qwen3 drops <think>),
//     and the longest such suffix found at `start` is the turn.
size_t ExampleEncoder::locate_turn_end(const ordered_json& conversation, size_t i,
                                       const ordered_json& tools, const std::string& rendered,
                                       size_t start, const std::string& last_turn,
                                       const std::string& where) const {
    auto fail = [&](const std::string& what) {
        throw_invalid(prefixed(where, "assistant message " + std::to_string(i) + ": " + what +
                                          " with " + template_name()),
                      "llmtune finds the trained tokens from renders of the conversation's "
                      "prefixes; use a template whose earlier turns keep their text as the "
                      "conversation grows, or set train_on_inputs");
    };
    const auto& m = conversation[i];
    const bool text_content = m.contains("content") && m["content"].is_string() &&
                              !m["content"].get<std::string>().empty();
    if (!text_content) {
        for (size_t k = 0; k < last_turn.size(); ++k)
            if (rendered.compare(start, last_turn.size() - k, last_turn, k) == 0)
                return start + last_turn.size() - k;
        fail("its text changes when the conversation continues and is not the end of its text "
             "as the last message");
    }
    ordered_json marked = conversation;
    marked[i]["content"] = m["content"].get<std::string>() + kSentinel;
    std::string rendered_marked = render(marked, tools, false, where);
    size_t at = rendered_marked.find(kSentinel);
    std::string unmarked = rendered_marked;
    if (at != std::string::npos) unmarked.erase(at, kSentinel.size());
    if (at == std::string::npos || at < start || unmarked.find(kSentinel) != std::string::npos ||
        unmarked != rendered)
        fail("its text changes when the conversation continues, and the end of its content "
             "cannot be located (the template alters the content)");
    ordered_json last(ordered_json::array_t(marked.begin(), marked.begin() + i + 1));
    std::string last_render = render(last, tools, false, where);
    size_t last_at = last_render.find(kSentinel);
    if (last_at == std::string::npos)
        fail("the template does not write its content when it is the last message");
    std::string end_of_turn = last_render.substr(last_at + kSentinel.size());
    if (rendered.compare(at, end_of_turn.size(), end_of_turn) != 0)
        fail("the text after its content differs between the last turn (\"" + end_of_turn +
             "\") and a longer conversation (does the template append the generation prompt "
             "even when add_generation_prompt is false?)");
    return at + end_of_turn.size();
}

// The final assistant turn's span is its whole render; check that the same text (content and
// end-of-turn) stays when the conversation continues, which catches templates that write the
// generation prompt unconditionally (the first Llama 3 Instruct release): its tokens would
// otherwise be trained as part of the answer.
void ExampleEncoder::check_final_turn(const ordered_json& messages, size_t i,
                                      const ordered_json& tools, size_t start,
                                      const std::string& through, const std::string& where) const {
    ordered_json longer = messages;
    longer.push_back(ordered_json{{"role", "user"}, {"content", "Continue."}});
    std::string continued = render(longer, tools, false, where);
    if (starts_with(continued, through)) return;
    if (!starts_with(continued, through.substr(0, start)))
        throw_invalid(prefixed(where, "assistant message " + std::to_string(i) +
                                          ": the text before it changes when the conversation "
                                          "continues with " + template_name()));
    locate_turn_end(longer, i, tools, continued, start, through.substr(start), where);
}

std::vector<ExampleEncoder::Span> ExampleEncoder::assistant_spans(const ordered_json& messages,
                                                                  const std::vector<int>& weights,
                                                                  const ordered_json& tools,
                                                                  const std::string& full,
                                                                  const std::string& where) const {
    std::vector<Span> spans;
    auto fail = [&](size_t i, const std::string& what) {
        throw_invalid(prefixed(where, "assistant message " + std::to_string(i) + ": " + what +
                                          " with " + template_name()),
                      "llmtune finds the trained tokens from prefix renders of the conversation; "
                      "use a template whose earlier turns render as the conversation grows, or "
                      "set train_on_inputs");
    };
    auto slice = [&](size_t n) {
        return ordered_json(ordered_json::array_t(messages.begin(), messages.begin() + n));
    };
    for (size_t i = 0; i < messages.size(); ++i) {
        const auto& m = messages[i];
        if (!m.is_object() || m.value("role", "") != "assistant") continue;
        Span s;
        s.trained = !(options_.honour_weights && weights[i] == 0);
        std::string before = render(slice(i), tools, true, where);
        if (!starts_with(full, before))
            fail(i, "the conversation before it, with the generation prompt, does not begin the "
                    "full render");
        s.begin = before.size();
        std::string through = render(slice(i + 1), tools, false, where);
        if (i + 1 == messages.size()) {
            if (through != full) fail(i, "rendering the same conversation twice differs");
            s.end = through.size();
            check_final_turn(messages, i, tools, s.begin, through, where);
        } else if (starts_with(full, through)) {
            s.end = through.size();
        } else {
            // The template renders a last turn differently (e.g. Qwen3's <think> block).
            if (!starts_with(through, before))
                fail(i, "neither the conversation up to it nor the one before it with the "
                        "generation prompt begin each other and the full render");
            s.end = locate_turn_end(messages, i, tools, full, s.begin, through.substr(s.begin),
                                    where);
        }
        if (s.end <= s.begin) fail(i, "the message renders to no text");
        if (!spans.empty() && s.begin < spans.back().end)
            fail(i, "its text overlaps the previous assistant message");
        spans.push_back(s);
    }
    return spans;
}

ExampleEncoder::Tokens ExampleEncoder::label_tokens(const std::string& text,
                                                    const std::vector<Span>& spans,
                                                    const std::string& where) const {
    // Regions covering the whole text, adjacent ones with equal labels merged.
    std::vector<Span> regions;
    auto add = [&](size_t b, size_t e, bool trained) {
        if (e <= b) return;
        if (!regions.empty() && regions.back().trained == trained)
            regions.back().end = e;
        else
            regions.push_back(Span{b, e, trained});
    };
    size_t at = 0;
    for (const auto& s : spans) {
        add(at, s.begin, options_.train_on_inputs);
        add(s.begin, s.end, s.trained);
        at = s.end;
    }
    add(at, text.size(), options_.train_on_inputs);

    const auto whole = tokenizer_->encode(text, false);
    Tokens out;
    out.ids = to_int32(whole);
    out.trained.assign(whole.size(), 0);
    if (regions.size() <= 1) {
        if (!regions.empty() && regions[0].trained) std::fill(out.trained.begin(), out.trained.end(), 1);
        return out;
    }

    // Boundary k sits between regions k and k+1.
    std::vector<TokenBoundary> bounds(regions.size() - 1);
    std::vector<int64_t> pieces;
    std::vector<size_t> piece_end;  // token count after each region
    for (const auto& r : regions) {
        auto ids = tokenizer_->encode(text.substr(r.begin, r.end - r.begin), false);
        pieces.insert(pieces.end(), ids.begin(), ids.end());
        piece_end.push_back(pieces.size());
    }
    if (pieces == whole) {
        for (size_t k = 0; k + 1 < regions.size(); ++k)
            bounds[k] = TokenBoundary{piece_end[k], false};
    } else {
        // Special tokens are split out before anything else, so the text after one is
        // tokenized on its own: a boundary is placed by tokenizing from the last special token
        // before it (an anchor: its end in the text and the token index after it) instead of
        // from the start, which keeps long conversations linear. The anchors are found by
        // searching the special tokens of the whole tokenization in the text, in order.
        std::vector<std::pair<size_t, size_t>> anchors{{0, 0}};  // (byte, token index)
        size_t cursor = 0;
        for (size_t t = 0; t < whole.size(); ++t) {
            if (!tokenizer_->is_special(whole[t])) continue;
            const std::string piece = tokenizer_->pieces({whole[t]})[0];
            size_t found = piece.empty() ? std::string::npos : text.find(piece, cursor);
            if (found == std::string::npos) break;
            cursor = found + piece.size();
            anchors.emplace_back(cursor, t + 1);
        }
        size_t anchor = 0;
        for (size_t k = 0; k + 1 < regions.size(); ++k) {
            const size_t b = regions[k].end;
            while (anchor + 1 < anchors.size() && anchors[anchor + 1].first <= b)
                ++anchor;
            const auto [a, ja] = anchors[anchor];
            auto local = tokenizer_->encode(text.substr(a, b - a), false);
            if (ja + local.size() <= whole.size() &&
                std::equal(local.begin(), local.end(),
                           whole.begin() + static_cast<std::ptrdiff_t>(ja))) {
                bounds[k] = TokenBoundary{ja + local.size(), false};
                continue;
            }
            auto left = tokenizer_->encode(text.substr(0, b), false);
            size_t pre = common_prefix(whole, left);
            if (pre == left.size()) {
                bounds[k] = TokenBoundary{pre, false};
                continue;
            }
            auto right = tokenizer_->encode(text.substr(b), false);
            size_t suf = common_suffix(whole, right);
            if (suf == right.size()) {
                bounds[k] = TokenBoundary{whole.size() - suf, false};
            } else if (whole.size() - suf == pre + 1) {
                bounds[k] = TokenBoundary{pre, true};  // token `pre` holds both sides
            } else {
                throw_invalid(
                    prefixed(where, "cannot place byte " + std::to_string(b) +
                                        " of the rendered conversation (a boundary of a trained "
                                        "span) on the tokens: " +
                                        std::to_string(whole.size() - suf - pre) +
                                        " tokens differ when the text is tokenized in two parts"),
                    "this tokenizer merges across the boundary; set train_on_inputs or report it");
            }
        }
    }
    for (size_t k = 0; k < regions.size(); ++k) {
        if (!regions[k].trained) continue;
        size_t lo = k == 0 ? 0 : bounds[k - 1].index;
        size_t hi = k + 1 == regions.size() ? whole.size()
                                             : bounds[k].index + (bounds[k].inside ? 1 : 0);
        LLMTUNE_ASSERT(lo <= hi && hi <= whole.size(), "span boundaries out of order");
        std::fill(out.trained.begin() + static_cast<std::ptrdiff_t>(lo),
                  out.trained.begin() + static_cast<std::ptrdiff_t>(hi), 1);
    }
    return out;
}

ExampleEncoder::Tokens ExampleEncoder::chat_tokens(const ordered_json& record,
                                                   const std::string& where) const {
    if (!template_)
        throw_invalid(prefixed(where, model_dir_ + " has no chat template, so chat records "
                                                   "cannot be rendered for training"),
                      "use a model with a chat_template in tokenizer_config.json");
    const auto& raw = record["messages"];
    if (!raw.is_array() || raw.empty())
        throw_invalid(prefixed(where, "\"messages\" must be a non-empty array"));
    ordered_json messages = ordered_json::array();
    std::vector<int> weights;
    bool any_weight_zero = false;
    for (size_t i = 0; i < raw.size(); ++i) {
        if (!raw[i].is_object())
            throw_invalid(prefixed(where, "message " + std::to_string(i) + " is not an object"));
        weights.push_back(message_weight(raw[i], i, where));
        if (weights.back() == 0) any_weight_zero = true;
        ordered_json m = raw[i];
        m.erase("weight");
        messages.push_back(std::move(m));
    }
    ordered_json tools = record.contains("tools") ? record["tools"] : ordered_json();

    std::string full = render(messages, tools, false, where);
    std::vector<Span> spans;
    // Training on everything needs no spans unless weight-0 messages must be cut out.
    if (!options_.train_on_inputs || (options_.honour_weights && any_weight_zero))
        spans = assistant_spans(messages, weights, tools, full, where);
    return label_tokens(full, spans, where);
}

ExampleEncoder::Tokens ExampleEncoder::text_tokens(const std::string& text,
                                                   const std::string& where) const {
    (void)where;
    auto ids = encode_text_record(*tokenizer_, text);
    Tokens out;
    out.ids = to_int32(ids);
    out.trained.assign(ids.size(), 1);
    return out;
}

ExampleEncoder::Tokens ExampleEncoder::tokens(const CanonicalRecord& record,
                                              const std::string& where) const {
    const auto& v = record.value;
    switch (record.kind) {
        case RecordKind::text:
            if (!v.contains("text") || !v["text"].is_string())
                throw_invalid(prefixed(where, "a text record needs a string \"text\""));
            return text_tokens(v["text"].get<std::string>(), where);
        case RecordKind::chat:
            if (!v.contains("messages"))
                throw_invalid(prefixed(where, "a chat record needs \"messages\""));
            return chat_tokens(v, where);
        case RecordKind::preference:
            break;
    }
    throw_invalid(prefixed(where, "preference records (prompt/chosen/rejected) cannot be used "
                                  "for supervised fine-tuning"),
                  "train on chat records (e.g. the prompt followed by the chosen answer); "
                  "preference training is not supported");
}

TrainingExample ExampleEncoder::encode(const CanonicalRecord& record,
                                       const std::string& where) const {
    Tokens t = tokens(record, where);
    TrainingExample ex;
    const size_t keep = std::min(t.ids.size(), static_cast<size_t>(options_.max_seq_len));
    ex.truncated_tokens = static_cast<int64_t>(t.ids.size() - keep);
    ex.input_ids.assign(t.ids.begin(), t.ids.begin() + static_cast<std::ptrdiff_t>(keep));
    ex.targets.assign(keep, kIgnoreTarget);
    // Shift: position p predicts token p+1, so the last kept position has no target.
    for (size_t p = 0; p + 1 < keep; ++p)
        if (t.trained[p + 1]) ex.targets[p] = ex.input_ids[p + 1];
    return ex;
}

std::vector<int64_t> encode_text_record(const tokenizer::Tokenizer& tokenizer,
                                        const std::string& text) {
    auto ids = tokenizer.encode(text, true);
    auto eos = tokenizer.eos_id();
    if (eos && (ids.empty() || ids.back() != *eos)) ids.push_back(*eos);
    return ids;
}

}  // namespace llmtune::data
