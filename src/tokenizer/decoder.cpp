#include "tokenizer/decoder.h"

#include "tokenizer/byte_level.h"
#include "tokenizer/json_path.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode_text.h"

namespace llmtune::tokenizer {

namespace {

class ByteLevelDecoder : public Decoder {
  public:
    void decode_chain(std::vector<std::string>& tokens, bool lossy) const override {
        std::string out;
        for (const auto& t : tokens)
            if (!byte_level_to_bytes(t, out)) out += t;  // e.g. an added token: kept as is
        tokens.assign(1, lossy ? utf8_lossy(out) : std::move(out));
    }
};

// <0xNN> tokens become the byte NN; runs of them are joined into one token.
class ByteFallbackDecoder : public Decoder {
  public:
    void decode_chain(std::vector<std::string>& tokens, bool lossy) const override {
        std::vector<std::string> out;
        std::string bytes;
        bool in_run = false;
        for (auto& t : tokens) {
            int b = byte_value(t);
            if (b >= 0) {
                bytes += static_cast<char>(b);
                in_run = true;
                continue;
            }
            if (in_run) {
                flush(bytes, lossy, out);
                in_run = false;
            }
            out.push_back(std::move(t));
        }
        if (in_run) flush(bytes, lossy, out);
        tokens.swap(out);
    }

  private:
    static void flush(std::string& bytes, bool lossy, std::vector<std::string>& out) {
        if (lossy && find_invalid_utf8(bytes) != std::string::npos) {
            for (size_t i = 0; i < bytes.size(); ++i)
                out.push_back("\xEF\xBF\xBD");
        } else {
            out.push_back(bytes);
        }
        bytes.clear();
    }
    static int hex(char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    }
    static int byte_value(const std::string& t) {
        if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
        int hi = hex(t[3]), lo = hex(t[4]);
        return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
    }
};

class FuseDecoder : public Decoder {
  public:
    void decode_chain(std::vector<std::string>& tokens, bool lossy) const override {
        std::string out;
        for (const auto& t : tokens)
            out += t;
        tokens.assign(1, std::move(out));
    }
};

// Removes up to `start` leading and `stop` trailing copies of `content` from each token.
class StripDecoder : public Decoder {
  public:
    StripDecoder(std::string content, int64_t start, int64_t stop)
        : content_(std::move(content)), start_(start), stop_(stop) {}
    void decode_chain(std::vector<std::string>& tokens, bool lossy) const override {
        size_t n = content_.size();
        for (auto& t : tokens) {
            size_t begin = 0, end = t.size();
            for (int64_t k = 0;
                 k < start_ && end - begin >= n && t.compare(begin, n, content_) == 0; ++k)
                begin += n;
            for (int64_t k = 0;
                 k < stop_ && end - begin >= n && t.compare(end - n, n, content_) == 0; ++k)
                end -= n;
            t = t.substr(begin, end - begin);
        }
    }

  private:
    std::string content_;
    int64_t start_, stop_;
};

class ReplaceDecoder : public Decoder {
  public:
    ReplaceDecoder(const JsonPath& pattern, bool literal, std::string content)
        : regex_(pattern.string(), literal, pattern), content_(std::move(content)) {}
    void decode_chain(std::vector<std::string>& tokens, bool lossy) const override {
        std::vector<RegexMatch> matches;
        for (auto& t : tokens) {
            matches.clear();
            regex_.find_all(t, matches, /*checked_utf8=*/false);
            if (matches.empty()) continue;
            std::string out;
            size_t prev = 0;
            for (const auto& m : matches) {
                out.append(t, prev, m.start - prev);
                out += content_;
                prev = m.end;
            }
            out.append(t, prev, std::string::npos);
            t.swap(out);
        }
    }

  private:
    Regex regex_;
    std::string content_;
};

// The replacement character becomes a space, except in the first token, where (unless the
// prepend scheme is "never") it is dropped: it was added by the pre-tokenizer.
class MetaspaceDecoder : public Decoder {
  public:
    MetaspaceDecoder(std::string replacement, bool drop_in_first)
        : replacement_(std::move(replacement)), drop_in_first_(drop_in_first) {}
    void decode_chain(std::vector<std::string>& tokens, bool lossy) const override {
        for (size_t i = 0; i < tokens.size(); ++i) {
            const std::string& t = tokens[i];
            std::string out;
            out.reserve(t.size());
            size_t pos = 0;
            while (true) {
                size_t hit = t.find(replacement_, pos);
                out.append(t, pos, hit == std::string::npos ? std::string::npos : hit - pos);
                if (hit == std::string::npos) break;
                if (!(i == 0 && drop_in_first_)) out += ' ';
                pos = hit + replacement_.size();
            }
            tokens[i].swap(out);
        }
    }

  private:
    std::string replacement_;
    bool drop_in_first_;
};

// BPEDecoder: the end-of-word suffix becomes a space (nothing after the last token).
class BpeSuffixDecoder : public Decoder {
  public:
    explicit BpeSuffixDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
    void decode_chain(std::vector<std::string>& tokens, bool lossy) const override {
        if (suffix_.empty()) return;
        for (size_t i = 0; i < tokens.size(); ++i) {
            std::string& t = tokens[i];
            std::string with = i + 1 == tokens.size() ? "" : " ";
            std::string out;
            size_t pos = 0;
            while (true) {
                size_t hit = t.find(suffix_, pos);
                out.append(t, pos, hit == std::string::npos ? std::string::npos : hit - pos);
                if (hit == std::string::npos) break;
                out += with;
                pos = hit + suffix_.size();
            }
            t.swap(out);
        }
    }

  private:
    std::string suffix_;
};

class SequenceDecoder : public Decoder {
  public:
    explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> parts)
        : parts_(std::move(parts)) {}
    void decode_chain(std::vector<std::string>& tokens, bool lossy) const override {
        for (const auto& p : parts_)
            p->decode_chain(tokens, lossy);
    }

  private:
    std::vector<std::unique_ptr<Decoder>> parts_;
};

std::string one_char(const JsonPath& p) {
    std::string s = p.string();
    size_t i = 0;
    if (s.empty() || (next_code_point(s, i), i != s.size())) p.fail("expected one character");
    return s;
}

}  // namespace

std::unique_ptr<Decoder> make_decoder(const JsonPath& config) {
    if (config.is_null()) return nullptr;
    config.expect_object();
    std::string type = config.string("type");
    if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
    if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
    if (type == "Fuse") return std::make_unique<FuseDecoder>();
    if (type == "Strip") {
        int64_t start = config.integer_or("start", 0), stop = config.integer_or("stop", 0);
        if (start < 0 || stop < 0) config.fail("start and stop must not be negative");
        return std::make_unique<StripDecoder>(one_char(config.at("content")), start, stop);
    }
    if (type == "Replace") {
        JsonPath pattern = config.at("pattern");
        pattern.expect_object();
        std::string content = config.string("content");
        if (pattern.has("String"))
            return std::make_unique<ReplaceDecoder>(pattern.at("String"), true, content);
        if (pattern.has("Regex"))
            return std::make_unique<ReplaceDecoder>(pattern.at("Regex"), false, content);
        pattern.fail("expected {\"String\": ...} or {\"Regex\": ...}");
    }
    if (type == "Metaspace") {
        std::string replacement = one_char(config.at("replacement"));
        // Same reading as the Metaspace pre-tokenizer: the scheme defaults to "always".
        std::string scheme = config.string_or("prepend_scheme", "always");
        if (scheme != "always" && scheme != "first" && scheme != "never")
            config.at("prepend_scheme").fail("expected first, never or always");
        if (config.has("add_prefix_space") && !config.at("add_prefix_space").boolean())
            scheme = "never";
        return std::make_unique<MetaspaceDecoder>(replacement, scheme != "never");
    }
    if (type == "BPEDecoder")
        return std::make_unique<BpeSuffixDecoder>(config.string_or("suffix", "</w>"));
    if (type == "Sequence") {
        JsonPath list = config.at("decoders");
        list.expect_array();
        std::vector<std::unique_ptr<Decoder>> parts;
        for (size_t i = 0; i < list.size(); ++i) {
            auto part = make_decoder(list.at(i));
            if (part) parts.push_back(std::move(part));
        }
        return std::make_unique<SequenceDecoder>(std::move(parts));
    }
    config.at("type").unsupported("decoder", type);
}

}  // namespace llmtune::tokenizer
