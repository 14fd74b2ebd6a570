#include "tokenizer/pre_tokenizer.h"

#include <algorithm>

#include "tokenizer/byte_level.h"
#include "tokenizer/json_path.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode_text.h"

namespace llmtune::tokenizer {

void split_pieces(const PreToken& piece, const std::vector<SplitSegment>& segments,
                  SplitBehavior behavior, std::vector<PreToken>& out) {
    struct Range {
        size_t start, end;
    };
    std::vector<Range> ranges;
    ranges.reserve(segments.size());
    bool previous_match = false;
    switch (behavior) {
        case SplitBehavior::isolated:
            for (const auto& s : segments)
                ranges.push_back({s.start, s.end});
            break;
        case SplitBehavior::removed:
            for (const auto& s : segments)
                if (!s.is_match) ranges.push_back({s.start, s.end});
            break;
        case SplitBehavior::contiguous:
            for (const auto& s : segments) {
                if (s.is_match == previous_match && !ranges.empty())
                    ranges.back().end = s.end;
                else
                    ranges.push_back({s.start, s.end});
                previous_match = s.is_match;
            }
            break;
        case SplitBehavior::merged_with_previous:
            for (const auto& s : segments) {
                if (s.is_match && !previous_match && !ranges.empty())
                    ranges.back().end = s.end;
                else
                    ranges.push_back({s.start, s.end});
                previous_match = s.is_match;
            }
            break;
        case SplitBehavior::merged_with_next:
            for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
                if (it->is_match && !previous_match && !ranges.empty())
                    ranges.back().start = it->start;
                else
                    ranges.push_back({it->start, it->end});
                previous_match = it->is_match;
            }
            std::reverse(ranges.begin(), ranges.end());
            break;
    }
    for (const auto& r : ranges) {
        if (r.end <= r.start) continue;  // empty pieces are dropped
        PreToken t;
        t.text = piece.text.substr(r.start, r.end - r.start);
        t.at_start = piece.at_start && r.start == 0;
        out.push_back(std::move(t));
    }
}

namespace {

// Segments from regex matches: the gaps between them are non-matches.
void regex_segments(const Regex& regex, const std::string& text, bool invert,
                    std::vector<SplitSegment>& segments) {
    static thread_local std::vector<RegexMatch> matches;
    matches.clear();
    segments.clear();
    regex.find_all(text, matches);
    size_t prev = 0;
    for (const auto& m : matches) {
        if (prev != m.start) segments.push_back({prev, m.start, invert});
        segments.push_back({m.start, m.end, !invert});
        prev = m.end;
    }
    if (prev != text.size()) segments.push_back({prev, text.size(), invert});
}

// Segments from a character test: each matching character is a match of its own.
template <typename Pred>
void char_segments(const std::string& text, Pred pred, std::vector<SplitSegment>& segments) {
    segments.clear();
    size_t last = 0, i = 0;
    while (i < text.size()) {
        size_t start = i;
        char32_t cp = next_code_point(text, i);
        if (pred(cp)) {
            if (last < start) segments.push_back({last, start, false});
            segments.push_back({start, i, true});
            last = i;
        }
    }
    if (last < text.size()) segments.push_back({last, text.size(), false});
}

SplitBehavior parse_behavior(const JsonPath& p) {
    std::string b = p.string();
    if (b == "Removed") return SplitBehavior::removed;
    if (b == "Isolated") return SplitBehavior::isolated;
    if (b == "MergedWithPrevious") return SplitBehavior::merged_with_previous;
    if (b == "MergedWithNext") return SplitBehavior::merged_with_next;
    if (b == "Contiguous") return SplitBehavior::contiguous;
    p.fail("unknown split behavior \"" + b +
           "\" (expected Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous)");
}

// Applies `split_one` to every piece, collecting the sub-pieces.
template <typename F>
void for_each_piece(std::vector<PreToken>& pieces, F split_one) {
    std::vector<PreToken> out;
    out.reserve(pieces.size() * 2);
    std::vector<SplitSegment> segments;
    for (const auto& piece : pieces)
        split_one(piece, segments, out);
    pieces.swap(out);
}

class ByteLevelPreTokenizer : public PreTokenizer {
  public:
    explicit ByteLevelPreTokenizer(const JsonPath& config)
        : add_prefix_space_(config.boolean_or("add_prefix_space", true)),
          use_regex_(config.boolean_or("use_regex", true)),
          regex_(kGpt2Pattern, false, config) {}

    void pre_tokenize(std::vector<PreToken>& pieces) const override {
        std::vector<PreToken> out;
        out.reserve(pieces.size() * (use_regex_ ? 4 : 1));
        std::vector<SplitSegment> segments;
        std::vector<PreToken> split;
        for (auto& piece : pieces) {
            if (add_prefix_space_ && (piece.text.empty() || piece.text[0] != ' '))
                piece.text.insert(0, " ");
            split.clear();
            if (use_regex_) {
                regex_segments(regex_, piece.text, false, segments);
                split_pieces(piece, segments, SplitBehavior::isolated, split);
            } else if (!piece.text.empty()) {
                split.push_back(std::move(piece));
            }
            for (auto& s : split) {
                PreToken t;
                t.at_start = s.at_start;
                t.text.reserve(s.text.size() * 2);
                bytes_to_byte_level(s.text, t.text);
                out.push_back(std::move(t));
            }
        }
        pieces.swap(out);
    }

  private:
    bool add_prefix_space_;
    bool use_regex_;
    Regex regex_;
};

class SplitPreTokenizer : public PreTokenizer {
  public:
    SplitPreTokenizer(const JsonPath& pattern, bool literal, SplitBehavior behavior, bool invert)
        : regex_(pattern.string(), literal, pattern), behavior_(behavior), invert_(invert) {}

    void pre_tokenize(std::vector<PreToken>& pieces) const override {
        for_each_piece(pieces, [&](const PreToken& piece, std::vector<SplitSegment>& segments,
                                   std::vector<PreToken>& out) {
            regex_segments(regex_, piece.text, invert_, segments);
            split_pieces(piece, segments, behavior_, out);
        });
    }

  private:
    Regex regex_;
    SplitBehavior behavior_;
    bool invert_;
};

enum class PrependScheme { first, never, always };

class MetaspacePreTokenizer : public PreTokenizer {
  public:
    MetaspacePreTokenizer(char32_t replacement, PrependScheme scheme, bool split)
        : replacement_(replacement), scheme_(scheme), split_(split) {
        append_utf8(replacement_utf8_, replacement);
    }

    void pre_tokenize(std::vector<PreToken>& pieces) const override {
        for_each_piece(pieces, [&](const PreToken& piece, std::vector<SplitSegment>& segments,
                                   std::vector<PreToken>& out) {
            PreToken t;
            t.at_start = piece.at_start;
            t.text.reserve(piece.text.size() + 8);
            for (char c : piece.text) {
                if (c == ' ')
                    t.text += replacement_utf8_;
                else
                    t.text += c;
            }
            bool starts_with_replacement =
                t.text.compare(0, replacement_utf8_.size(), replacement_utf8_) == 0;
            if (!starts_with_replacement && (scheme_ == PrependScheme::always ||
                                             (scheme_ == PrependScheme::first && piece.at_start)))
                t.text.insert(0, replacement_utf8_);
            if (!split_) {
                if (!t.text.empty()) out.push_back(std::move(t));
                return;
            }
            char_segments(
                t.text, [&](char32_t cp) { return cp == replacement_; }, segments);
            split_pieces(t, segments, SplitBehavior::merged_with_next, out);
        });
    }

  private:
    char32_t replacement_;
    std::string replacement_utf8_;
    PrependScheme scheme_;
    bool split_;
};

// Splits with a character test (Digits, Punctuation, WhitespaceSplit).
template <typename Pred>
class CharSplitPreTokenizer : public PreTokenizer {
  public:
    CharSplitPreTokenizer(Pred pred, SplitBehavior behavior) : pred_(pred), behavior_(behavior) {}
    void pre_tokenize(std::vector<PreToken>& pieces) const override {
        for_each_piece(pieces, [&](const PreToken& piece, std::vector<SplitSegment>& segments,
                                   std::vector<PreToken>& out) {
            char_segments(piece.text, pred_, segments);
            split_pieces(piece, segments, behavior_, out);
        });
    }

  private:
    Pred pred_;
    SplitBehavior behavior_;
};

template <typename Pred>
std::unique_ptr<PreTokenizer> make_char_split(Pred pred, SplitBehavior behavior) {
    return std::make_unique<CharSplitPreTokenizer<Pred>>(pred, behavior);
}

// Whitespace: the matches of \w+|[^\w\s]+ (Unicode classes), whitespace dropped.
class WhitespacePreTokenizer : public PreTokenizer {
  public:
    void pre_tokenize(std::vector<PreToken>& pieces) const override {
        for_each_piece(pieces, [&](const PreToken& piece, std::vector<SplitSegment>& segments,
                                   std::vector<PreToken>& out) {
            segments.clear();
            const std::string& s = piece.text;
            size_t i = 0, run_start = 0;
            int run_kind = -1;  // 0 word, 1 other, -1 none (whitespace)
            auto close = [&](size_t at) {
                if (run_kind >= 0) segments.push_back({run_start, at, false});
            };
            while (i < s.size()) {
                size_t start = i;
                char32_t cp = next_code_point(s, i);
                int kind = is_word_char(cp) ? 0 : is_whitespace(cp) ? -1 : 1;
                if (kind != run_kind) {
                    close(start);
                    run_kind = kind;
                    run_start = start;
                }
            }
            close(s.size());
            split_pieces(piece, segments, SplitBehavior::isolated, out);
        });
    }
};

class SequencePreTokenizer : public PreTokenizer {
  public:
    explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> parts)
        : parts_(std::move(parts)) {}
    void pre_tokenize(std::vector<PreToken>& pieces) const override {
        for (const auto& p : parts_)
            p->pre_tokenize(pieces);
    }

  private:
    std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

std::unique_ptr<PreTokenizer> make_metaspace(const JsonPath& config) {
    JsonPath rep = config.at("replacement");
    std::string r = rep.string();
    size_t i = 0;
    if (r.empty() || (next_code_point(r, i), i != r.size()))
        rep.fail("the replacement must be exactly one character");
    i = 0;
    char32_t replacement = next_code_point(r, i);
    // As Hugging Face reads it: prepend_scheme defaults to "always"; the legacy
    // add_prefix_space=false means "never" and must not contradict an explicit scheme.
    PrependScheme scheme = PrependScheme::always;
    if (config.has("prepend_scheme")) {
        JsonPath ps = config.at("prepend_scheme");
        std::string s = ps.string();
        if (s == "first")
            scheme = PrependScheme::first;
        else if (s == "never")
            scheme = PrependScheme::never;
        else if (s == "always")
            scheme = PrependScheme::always;
        else
            ps.fail("unknown prepend_scheme \"" + s + "\" (expected first, never or always)");
    }
    if (config.has("add_prefix_space") && !config.at("add_prefix_space").boolean()) {
        if (config.has("prepend_scheme") && scheme != PrependScheme::never)
            config.at("add_prefix_space").fail("add_prefix_space does not match prepend_scheme");
        scheme = PrependScheme::never;
    }
    return std::make_unique<MetaspacePreTokenizer>(replacement, scheme,
                                                   config.boolean_or("split", true));
}

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const JsonPath& config) {
    if (config.is_null()) return nullptr;
    config.expect_object();
    std::string type = config.string("type");
    if (type == "ByteLevel") return std::make_unique<ByteLevelPreTokenizer>(config);
    if (type == "Split") {
        JsonPath pattern = config.at("pattern");
        pattern.expect_object();
        SplitBehavior behavior = parse_behavior(config.at("behavior"));
        bool invert = config.boolean_or("invert", false);
        if (pattern.has("String"))
            return std::make_unique<SplitPreTokenizer>(pattern.at("String"), true, behavior,
                                                       invert);
        if (pattern.has("Regex"))
            return std::make_unique<SplitPreTokenizer>(pattern.at("Regex"), false, behavior,
                                                       invert);
        pattern.fail("expected {\"String\": ...} or {\"Regex\": ...}");
    }
    if (type == "Metaspace") return make_metaspace(config);
    if (type == "Digits")
        return make_char_split(is_numeric, config.boolean_or("individual_digits", false)
                                               ? SplitBehavior::isolated
                                               : SplitBehavior::contiguous);
    if (type == "Punctuation") {
        SplitBehavior behavior = config.has("behavior") ? parse_behavior(config.at("behavior"))
                                                        : SplitBehavior::isolated;
        return make_char_split(is_punctuation, behavior);
    }
    if (type == "WhitespaceSplit") return make_char_split(is_whitespace, SplitBehavior::removed);
    if (type == "Whitespace") return std::make_unique<WhitespacePreTokenizer>();
    if (type == "Sequence") {
        JsonPath list = config.at("pretokenizers");
        list.expect_array();
        std::vector<std::unique_ptr<PreTokenizer>> parts;
        for (size_t i = 0; i < list.size(); ++i) {
            auto part = make_pre_tokenizer(list.at(i));
            if (part) parts.push_back(std::move(part));
        }
        return std::make_unique<SequencePreTokenizer>(std::move(parts));
    }
    config.at("type").unsupported("pre-tokenizer", type);
}

}  // namespace llmtune::tokenizer
