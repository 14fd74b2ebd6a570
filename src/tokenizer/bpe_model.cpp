#include "tokenizer/bpe_model.h"

#include <algorithm>
#include <cstdio>

#include "common/error.h"
#include "tokenizer/json_path.h"
#include "tokenizer/unicode_text.h"

namespace llmtune::tokenizer {

// Open-addressing hash table from a pair of ids to (rank, merged id).
struct BpeModel::MergeTable {
    struct Slot {
        uint64_t key;  // (left << 32) | right; kEmpty when unused
        uint32_t rank;
        int32_t new_id;
    };
    static constexpr uint64_t kEmpty = ~uint64_t(0);
    std::vector<Slot> slots;
    uint64_t mask = 0;
    int shift = 64;

    explicit MergeTable(size_t n) {
        size_t cap = 16;
        while (cap < n * 2)
            cap *= 2;
        slots.assign(cap, Slot{kEmpty, 0, 0});
        mask = cap - 1;
        shift = 64;
        for (size_t c = cap; c > 1; c >>= 1)
            --shift;
    }
    size_t home(uint64_t key) const {
        return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift) & mask;
    }
    static uint64_t make_key(int32_t a, int32_t b) {
        return (uint64_t(uint32_t(a)) << 32) | uint32_t(b);
    }
    void put(uint64_t key, uint32_t rank, int32_t new_id) {
        for (size_t i = home(key);; i = (i + 1) & mask) {
            if (slots[i].key == kEmpty || slots[i].key == key) {
                slots[i] = Slot{key, rank, new_id};  // a repeated pair keeps its last rank
                return;
            }
        }
    }
    const Slot* find(uint64_t key) const {
        for (size_t i = home(key);; i = (i + 1) & mask) {
            if (slots[i].key == key) return &slots[i];
            if (slots[i].key == kEmpty) return nullptr;
        }
    }
};

namespace {

constexpr size_t kMaxCachedWordBytes = 256;  // as Hugging Face: long words rarely repeat
constexpr size_t kCacheCapacity = 1 << 17;

std::string byte_token(unsigned b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    return buf;
}

}  // namespace

BpeModel::BpeModel(const JsonPath& config) {
    config.expect_object();
    cache_.reserve(kCacheCapacity);
    if (config.has("dropout")) {
        double dropout = config.at("dropout").number();
        if (dropout > 0.0)
            config.at("dropout").fail(
                "BPE dropout is a training-time randomisation and is not supported",
                "set \"dropout\": null in the tokenizer.json used for inference and training");
    }
    JsonPath vocab = config.at("vocab");
    vocab.expect_object();
    int64_t max_id = -1;
    vocab_.reserve(vocab.size());
    for (auto it = vocab.value().begin(); it != vocab.value().end(); ++it) {
        // Ids index arrays here and embedding rows in the model: 2^26 is far beyond any
        // real vocabulary and keeps a corrupt file from allocating gigabytes.
        if (!it->is_number_integer() || it->get<int64_t>() < 0 ||
            it->get<int64_t>() >= (int64_t(1) << 26))
            vocab.get(it.key().c_str()).fail("expected an integer id from 0 to 2^26 - 1");
        int64_t id = it->get<int64_t>();
        vocab_.emplace(it.key(), static_cast<int32_t>(id));
        max_id = std::max(max_id, id);
    }
    id_to_token_.resize(static_cast<size_t>(max_id + 1));
    id_present_.assign(static_cast<size_t>(max_id + 1), false);
    for (const auto& [token, id] : vocab_) {
        id_to_token_[id] = token;
        id_present_[id] = true;
        size_t i = 0;
        if (!token.empty()) {
            char32_t cp = next_code_point(token, i);
            if (i == token.size()) char_ids_[cp] = id;
        }
    }

    if (config.has("unk_token")) {
        JsonPath unk = config.at("unk_token");
        auto it = vocab_.find(unk.string());
        if (it == vocab_.end())
            unk.fail("the unk_token is not in the vocabulary",
                     "fix model.unk_token or add the token to model.vocab");
        unk_id_ = it->second;
    }
    continuing_subword_prefix_ = config.string_or("continuing_subword_prefix", "");
    end_of_word_suffix_ = config.string_or("end_of_word_suffix", "");
    fuse_unk_ = config.boolean_or("fuse_unk", false);
    byte_fallback_ = config.boolean_or("byte_fallback", false);
    ignore_merges_ = config.boolean_or("ignore_merges", false);
    for (unsigned b = 0; b < 256; ++b) {
        auto it = vocab_.find(byte_token(b));
        byte_ids_[b] = it == vocab_.end() ? -1 : it->second;
    }

    JsonPath merges = config.at("merges");
    merges.expect_array();
    merges_ = std::make_unique<MergeTable>(merges.size());
    uint32_t rank = 0;
    for (size_t i = 0; i < merges.size(); ++i) {
        JsonPath m = merges.at(i);
        std::string a, b;
        if (m.value().is_string()) {  // "a b", as tokenizers < 0.20 wrote them
            std::string line = m.string();
            if (line.rfind("#version", 0) == 0) continue;
            size_t sp = line.find(' ');
            if (sp == std::string::npos || line.find(' ', sp + 1) != std::string::npos)
                m.fail("a merge must be two tokens separated by one space");
            a = line.substr(0, sp);
            b = line.substr(sp + 1);
        } else if (m.value().is_array() && m.size() == 2) {  // ["a", "b"]
            a = m.at(size_t(0)).string();
            b = m.at(size_t(1)).string();
        } else {
            m.fail("expected \"a b\" or [\"a\", \"b\"]");
        }
        auto ia = vocab_.find(a), ib = vocab_.find(b);
        std::string merged = a + b.substr(std::min(b.size(), continuing_subword_prefix_.size()));
        auto im = vocab_.find(merged);
        if (ia == vocab_.end() || ib == vocab_.end() || im == vocab_.end())
            m.fail("the merge uses or makes a token that is not in the vocabulary (\"" +
                   (ia == vocab_.end()   ? a
                    : ib == vocab_.end() ? b
                                         : merged) +
                   "\")");
        merges_->put(MergeTable::make_key(ia->second, ib->second), rank++, im->second);
    }
}

BpeModel::~BpeModel() = default;

std::optional<int32_t> BpeModel::token_to_id(const std::string& token) const {
    auto it = vocab_.find(token);
    if (it == vocab_.end()) return std::nullopt;
    return it->second;
}

const std::string* BpeModel::id_to_token(int64_t id) const {
    if (id < 0 || id >= static_cast<int64_t>(id_to_token_.size()) || !id_present_[id])
        return nullptr;
    return &id_to_token_[id];
}

std::optional<int32_t> BpeModel::symbol_id(std::string_view text, bool first, bool last) const {
    bool decorated =
        (!first && !continuing_subword_prefix_.empty()) || (last && !end_of_word_suffix_.empty());
    if (!decorated) {
        size_t i = 0;
        char32_t cp = next_code_point(text, i);
        auto it = char_ids_.find(cp);
        if (it == char_ids_.end()) return std::nullopt;
        return it->second;
    }
    std::string s;
    if (!first) s += continuing_subword_prefix_;
    s.append(text);
    if (last) s += end_of_word_suffix_;
    auto it = vocab_.find(s);
    if (it == vocab_.end()) return std::nullopt;
    return it->second;
}

void BpeModel::merge_word(std::string_view word, std::vector<int32_t>& out) const {
    struct Symbol {
        int32_t id;
        int32_t prev, next;
        bool alive;
    };
    std::vector<Symbol> symbols;
    symbols.reserve(word.size());
    auto add = [&](int32_t id) {
        int32_t n = static_cast<int32_t>(symbols.size());
        symbols.push_back(Symbol{id, n - 1, n + 1, true});
    };
    // A pending unknown-token symbol, as Hugging Face keeps it to fuse runs of unknowns.
    bool have_unk = false;

    size_t i = 0;
    while (i < word.size()) {
        size_t start = i;
        next_code_point(word, i);
        std::string_view ch = word.substr(start, i - start);
        bool first = start == 0, last = i == word.size();
        if (auto id = symbol_id(ch, first, last)) {
            if (have_unk) {
                add(*unk_id_);
                have_unk = false;
            }
            add(*id);
            continue;
        }
        if (byte_fallback_) {
            std::string s;
            if (!first) s += continuing_subword_prefix_;
            s.append(ch);
            if (last) s += end_of_word_suffix_;
            bool all = std::all_of(s.begin(), s.end(), [&](char c) {
                return byte_ids_[static_cast<unsigned char>(c)] >= 0;
            });
            if (all) {
                for (char c : s)
                    add(byte_ids_[static_cast<unsigned char>(c)]);
                continue;
            }
        }
        if (unk_id_) {
            if (have_unk && !fuse_unk_) add(*unk_id_);
            have_unk = true;
        }
        // Without an unk token an unknown character is dropped, as Hugging Face does.
    }
    if (have_unk) add(*unk_id_);
    if (symbols.empty()) return;
    symbols.back().next = -1;

    struct Candidate {
        uint32_t rank;
        int32_t pos;
        int32_t new_id;
        bool operator>(const Candidate& o) const {
            return rank != o.rank ? rank > o.rank : pos > o.pos;
        }
    };
    std::vector<Candidate> heap;
    heap.reserve(symbols.size());
    auto push = [&](int32_t pos) {
        int32_t next = symbols[pos].next;
        if (next < 0) return;
        const MergeTable::Slot* m =
            merges_->find(MergeTable::make_key(symbols[pos].id, symbols[next].id));
        if (!m) return;
        heap.push_back(Candidate{m->rank, pos, m->new_id});
        std::push_heap(heap.begin(), heap.end(), std::greater<Candidate>());
    };
    for (int32_t p = 0; p + 1 < static_cast<int32_t>(symbols.size()); ++p)
        push(p);
    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), std::greater<Candidate>());
        Candidate top = heap.back();
        heap.pop_back();
        Symbol& left = symbols[top.pos];
        if (!left.alive || left.next < 0) continue;
        Symbol& right = symbols[left.next];
        // Skip entries made stale by an earlier merge.
        const MergeTable::Slot* m = merges_->find(MergeTable::make_key(left.id, right.id));
        if (!m || m->new_id != top.new_id) continue;
        left.id = top.new_id;
        right.alive = false;
        left.next = right.next;
        if (right.next >= 0) symbols[right.next].prev = top.pos;
        if (left.prev >= 0) push(left.prev);
        push(top.pos);
    }
    for (int32_t p = 0; p >= 0; p = symbols[p].next)
        out.push_back(symbols[p].id);
}

void BpeModel::tokenize(std::string_view word, std::vector<int32_t>& out) const {
    if (word.empty()) return;
    if (ignore_merges_) {
        auto it = vocab_.find(std::string(word));
        if (it != vocab_.end()) {
            out.push_back(it->second);
            return;
        }
    }
    bool cacheable = word.size() < kMaxCachedWordBytes;
    std::string key;
    if (cacheable) {
        key.assign(word);
        std::lock_guard<std::mutex> lock(cache_mutex_);
        auto it = cache_.find(key);
        if (it != cache_.end()) {
            out.insert(out.end(), it->second.begin(), it->second.end());
            return;
        }
    }
    size_t mark = out.size();
    merge_word(word, out);
    if (cacheable) {
        std::vector<int32_t> ids(out.begin() + static_cast<std::ptrdiff_t>(mark), out.end());
        std::lock_guard<std::mutex> lock(cache_mutex_);
        if (cache_.size() >= kCacheCapacity) cache_.clear();
        cache_.emplace(std::move(key), std::move(ids));
    }
}

}  // namespace llmtune::tokenizer
