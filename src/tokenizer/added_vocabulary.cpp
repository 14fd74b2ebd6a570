#include "tokenizer/added_vocabulary.h"

#include <algorithm>

#include "tokenizer/json_path.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/unicode_text.h"

namespace llmtune::tokenizer {

// A byte trie over token strings, for leftmost-longest matching.
struct AddedVocabulary::Trie {
    struct Node {
        std::vector<std::pair<unsigned char, int32_t>> children;
        int32_t token = -1;  // index into tokens_ when a token ends here
    };
    std::vector<Node> nodes{Node{}};
    bool first_byte[256] = {};

    void insert(const std::string& s, int32_t token) {
        int32_t n = 0;
        for (unsigned char c : s) {
            auto& ch = nodes[n].children;
            auto it =
                std::find_if(ch.begin(), ch.end(), [&](const auto& p) { return p.first == c; });
            if (it != ch.end()) {
                n = it->second;
            } else {
                int32_t next = static_cast<int32_t>(nodes.size());
                nodes[n].children.emplace_back(c, next);
                nodes.emplace_back();
                n = next;
            }
        }
        nodes[n].token = token;
        first_byte[static_cast<unsigned char>(s[0])] = true;
    }

    // The longest token starting at text[i], as (token index, length); token -1 if none.
    std::pair<int32_t, size_t> longest_at(std::string_view text, size_t i) const {
        int32_t n = 0, best = -1;
        size_t best_len = 0;
        for (size_t j = i; j < text.size(); ++j) {
            const auto& ch = nodes[n].children;
            unsigned char c = static_cast<unsigned char>(text[j]);
            auto it =
                std::find_if(ch.begin(), ch.end(), [&](const auto& p) { return p.first == c; });
            if (it == ch.end()) break;
            n = it->second;
            if (nodes[n].token >= 0) {
                best = nodes[n].token;
                best_len = j + 1 - i;
            }
        }
        return {best, best_len};
    }
};

AddedVocabulary::AddedVocabulary(const JsonPath& added_tokens, const Normalizer* normalizer) {
    if (!added_tokens.is_null()) {
        added_tokens.expect_array();
        for (size_t i = 0; i < added_tokens.size(); ++i) {
            JsonPath t = added_tokens.at(i);
            t.expect_object();
            AddedToken a;
            a.id = t.at("id").integer();
            if (a.id < 0 || a.id >= (int64_t(1) << 26))
                t.at("id").fail("expected an id from 0 to 2^26 - 1");
            a.content = t.string("content");
            a.single_word = t.boolean_or("single_word", false);
            a.lstrip = t.boolean_or("lstrip", false);
            a.rstrip = t.boolean_or("rstrip", false);
            a.special = t.boolean_or("special", false);
            a.normalized = t.boolean_or("normalized", !a.special);
            if (a.content.empty()) continue;  // Hugging Face ignores empty tokens
            if (find_invalid_utf8(a.content) != std::string::npos)
                t.at("content").fail("the token is not valid UTF-8");
            auto existing = by_content_.find(a.content);
            if (existing != by_content_.end()) {  // a later entry replaces an earlier one
                by_id_.erase(tokens_[existing->second].id);
                tokens_[existing->second] = a;
                by_id_[a.id] = existing->second;
                continue;
            }
            by_id_[a.id] = tokens_.size();
            by_content_[a.content] = tokens_.size();
            tokens_.push_back(std::move(a));
        }
    }
    raw_trie_ = std::make_unique<Trie>();
    normalized_trie_ = std::make_unique<Trie>();
    for (size_t i = 0; i < tokens_.size(); ++i) {
        AddedToken& a = tokens_[i];
        a.decoded = a.content;
        if (!a.normalized) {
            raw_trie_->insert(a.content, static_cast<int32_t>(i));
            continue;
        }
        if (normalizer) normalizer->normalize(a.decoded);
        if (!a.decoded.empty()) normalized_trie_->insert(a.decoded, static_cast<int32_t>(i));
    }
}

AddedVocabulary::~AddedVocabulary() = default;

const AddedToken* AddedVocabulary::find_id(int64_t id) const {
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

std::optional<int64_t> AddedVocabulary::find_content(const std::string& content) const {
    auto it = by_content_.find(content);
    if (it == by_content_.end()) return std::nullopt;
    return tokens_[it->second].id;
}

namespace {

// The code point that ends at `end` (exclusive), and its start.
char32_t previous_code_point(std::string_view s, size_t end, size_t* start) {
    size_t i = end - 1;
    while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80)
        --i;
    *start = i;
    size_t j = i;
    return next_code_point(s, j);
}

}  // namespace

void AddedVocabulary::split(std::string_view text, bool normalized,
                            std::vector<AddedSplit>& out) const {
    const Trie& trie = normalized ? *normalized_trie_ : *raw_trie_;
    if (text.empty() || trie.nodes[0].children.empty()) {
        out.push_back({0, text.size(), -1});
        return;
    }
    size_t offset = 0;  // end of the previous split
    size_t i = 0;       // where the search resumes
    while (i < text.size()) {
        if (!trie.first_byte[static_cast<unsigned char>(text[i])]) {
            ++i;
            continue;
        }
        auto [index, len] = trie.longest_at(text, i);
        if (index < 0) {
            ++i;
            continue;
        }
        const AddedToken& tok = tokens_[index];
        size_t start = i, stop = i + len;
        i = stop;  // the search goes on after this match, used or not
        if (tok.single_word) {
            size_t ps = 0, ns = stop;
            bool word_before = start > 0 && is_word_char(previous_code_point(text, start, &ps));
            bool word_after = stop < text.size() && is_word_char(next_code_point(text, ns));
            if (word_before || word_after) continue;
        }
        if (tok.lstrip) {
            size_t s = start;
            while (s > offset) {
                size_t ps;
                if (!is_whitespace(previous_code_point(text, s, &ps))) break;
                s = ps;
            }
            start = s;
        }
        if (tok.rstrip) {
            while (stop < text.size()) {
                size_t ns = stop;
                if (!is_whitespace(next_code_point(text, ns))) break;
                stop = ns;
            }
            i = std::max(i, stop);
        }
        if (offset < start) out.push_back({offset, start, -1});
        out.push_back({start, stop, tok.id});
        offset = stop;
    }
    if (offset < text.size()) out.push_back({offset, text.size(), -1});
}

}  // namespace llmtune::tokenizer
