#include "tokenizer/normalizer.h"

#include <vector>

#include "tokenizer/json_path.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode_text.h"

namespace llmtune::tokenizer {

namespace {

class UnicodeNormalizer : public Normalizer {
  public:
    explicit UnicodeNormalizer(NormalForm form) : form_(form) {}
    void normalize(std::string& text) const override { text = unicode_normalize(text, form_); }

  private:
    NormalForm form_;
};

class LowercaseNormalizer : public Normalizer {
  public:
    void normalize(std::string& text) const override { text = unicode_lowercase(text); }
};

// Strips Unicode whitespace (Rust's char::is_whitespace) from either end.
class StripNormalizer : public Normalizer {
  public:
    StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
    void normalize(std::string& text) const override {
        size_t begin = 0, end = text.size();
        if (left_) {
            while (begin < end) {
                size_t i = begin;
                if (!is_whitespace(next_code_point(text, i))) break;
                begin = i;
            }
        }
        if (right_) {
            while (end > begin) {
                size_t start = end - 1;
                while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80)
                    --start;
                size_t i = start;
                if (!is_whitespace(next_code_point(text, i))) break;
                end = start;
            }
        }
        text = text.substr(begin, end - begin);
    }

  private:
    bool left_, right_;
};

class StripAccentsNormalizer : public Normalizer {
  public:
    void normalize(std::string& text) const override {
        std::string out;
        out.reserve(text.size());
        size_t i = 0;
        while (i < text.size()) {
            size_t start = i;
            char32_t cp = next_code_point(text, i);
            if (!is_combining_mark(cp)) out.append(text, start, i - start);
        }
        text.swap(out);
    }
};

class PrependNormalizer : public Normalizer {
  public:
    explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
    void normalize(std::string& text) const override {
        if (!text.empty()) text.insert(0, prefix_);
    }

  private:
    std::string prefix_;
};

class ReplaceNormalizer : public Normalizer {
  public:
    ReplaceNormalizer(const JsonPath& pattern, bool literal, std::string content)
        : regex_(pattern.string(), literal, pattern), content_(std::move(content)) {}
    void normalize(std::string& text) const override {
        std::vector<RegexMatch> matches;
        regex_.find_all(text, matches);
        if (matches.empty()) return;
        std::string out;
        out.reserve(text.size());
        size_t prev = 0;
        for (const auto& m : matches) {
            out.append(text, prev, m.start - prev);
            out += content_;
            prev = m.end;
        }
        out.append(text, prev, std::string::npos);
        text.swap(out);
    }

  private:
    Regex regex_;
    std::string content_;
};

class SequenceNormalizer : public Normalizer {
  public:
    explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> parts)
        : parts_(std::move(parts)) {}
    void normalize(std::string& text) const override {
        for (const auto& p : parts_)
            p->normalize(text);
    }

  private:
    std::vector<std::unique_ptr<Normalizer>> parts_;
};

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const JsonPath& config) {
    if (config.is_null()) return nullptr;
    config.expect_object();
    std::string type = config.string("type");
    if (type == "NFC") return std::make_unique<UnicodeNormalizer>(NormalForm::nfc);
    if (type == "NFD") return std::make_unique<UnicodeNormalizer>(NormalForm::nfd);
    if (type == "NFKC") return std::make_unique<UnicodeNormalizer>(NormalForm::nfkc);
    if (type == "NFKD") return std::make_unique<UnicodeNormalizer>(NormalForm::nfkd);
    if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
    if (type == "StripAccents") return std::make_unique<StripAccentsNormalizer>();
    if (type == "Strip")
        return std::make_unique<StripNormalizer>(config.boolean_or("strip_left", true),
                                                 config.boolean_or("strip_right", true));
    if (type == "Prepend") return std::make_unique<PrependNormalizer>(config.string("prepend"));
    if (type == "Replace") {
        JsonPath pattern = config.at("pattern");
        pattern.expect_object();
        std::string content = config.string("content");
        if (pattern.has("String"))
            return std::make_unique<ReplaceNormalizer>(pattern.at("String"), true, content);
        if (pattern.has("Regex"))
            return std::make_unique<ReplaceNormalizer>(pattern.at("Regex"), false, content);
        pattern.fail("expected {\"String\": ...} or {\"Regex\": ...}");
    }
    if (type == "Sequence") {
        JsonPath list = config.at("normalizers");
        list.expect_array();
        std::vector<std::unique_ptr<Normalizer>> parts;
        for (size_t i = 0; i < list.size(); ++i) {
            auto part = make_normalizer(list.at(i));
            if (part) parts.push_back(std::move(part));
        }
        return std::make_unique<SequenceNormalizer>(std::move(parts));
    }
    config.at("type").unsupported("normalizer", type);
}

}  // namespace llmtune::tokenizer
