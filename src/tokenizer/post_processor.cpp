#include "tokenizer/post_processor.h"

#include "tokenizer/json_path.h"

namespace llmtune::tokenizer {

namespace {

class TemplatePostProcessor : public PostProcessor {
  public:
    TemplatePostProcessor(std::vector<int64_t> prefix, std::vector<int64_t> suffix)
        : prefix_(std::move(prefix)), suffix_(std::move(suffix)) {}
    void process(std::vector<int64_t>& ids, bool add_special_tokens) const override {
        if (!add_special_tokens) return;
        ids.insert(ids.begin(), prefix_.begin(), prefix_.end());
        ids.insert(ids.end(), suffix_.begin(), suffix_.end());
    }

  private:
    std::vector<int64_t> prefix_, suffix_;
};

class NoOpPostProcessor : public PostProcessor {
  public:
    void process(std::vector<int64_t>&, bool) const override {}
};

class SequencePostProcessor : public PostProcessor {
  public:
    explicit SequencePostProcessor(std::vector<std::unique_ptr<PostProcessor>> parts)
        : parts_(std::move(parts)) {}
    void process(std::vector<int64_t>& ids, bool add_special_tokens) const override {
        for (const auto& p : parts_)
            p->process(ids, add_special_tokens);
    }

  private:
    std::vector<std::unique_ptr<PostProcessor>> parts_;
};

// TemplateProcessing: "single" is a list of {"SpecialToken": {"id": NAME}} and
// {"Sequence": {"id": "A"}} items; each NAME's ids come from "special_tokens".
std::unique_ptr<PostProcessor> make_template(const JsonPath& config) {
    JsonPath specials = config.at("special_tokens");
    specials.expect_object();
    JsonPath single = config.at("single");
    single.expect_array();
    std::vector<int64_t> prefix, suffix;
    bool seen_sequence = false;
    for (size_t i = 0; i < single.size(); ++i) {
        JsonPath item = single.at(i);
        item.expect_object();
        if (item.has("Sequence")) {
            JsonPath seq = item.at("Sequence");
            std::string id = seq.string("id");
            if (id != "A") seq.at("id").fail("a single-sequence template can only use $A");
            if (seen_sequence) item.fail("the template uses $A twice");
            seen_sequence = true;
        } else if (item.has("SpecialToken")) {
            JsonPath tok = item.at("SpecialToken");
            std::string name = tok.string("id");
            JsonPath entry = specials.get(name.c_str());
            if (entry.is_null())
                tok.at("id").fail("\"" + name + "\" is not listed in special_tokens");
            JsonPath ids = entry.at("ids");
            ids.expect_array();
            auto& target = seen_sequence ? suffix : prefix;
            for (size_t k = 0; k < ids.size(); ++k)
                target.push_back(ids.at(k).integer());
        } else {
            item.fail("expected {\"SpecialToken\": ...} or {\"Sequence\": ...}");
        }
    }
    if (!seen_sequence) single.fail("the template never places the sequence ($A)");
    return std::make_unique<TemplatePostProcessor>(std::move(prefix), std::move(suffix));
}

// BertProcessing / RobertaProcessing: {"cls": [token, id], "sep": [token, id]}.
std::unique_ptr<PostProcessor> make_cls_sep(const JsonPath& config) {
    auto id_of = [&](const char* key) {
        JsonPath pair = config.at(key);
        pair.expect_array();
        if (pair.size() != 2) pair.fail("expected [token, id]");
        return pair.at(size_t(1)).integer();
    };
    return std::make_unique<TemplatePostProcessor>(std::vector<int64_t>{id_of("cls")},
                                                   std::vector<int64_t>{id_of("sep")});
}

}  // namespace

std::unique_ptr<PostProcessor> make_template_post_processor(std::vector<int64_t> prefix,
                                                            std::vector<int64_t> suffix) {
    return std::make_unique<TemplatePostProcessor>(std::move(prefix), std::move(suffix));
}

std::unique_ptr<PostProcessor> make_post_processor(const JsonPath& config) {
    if (config.is_null()) return nullptr;
    config.expect_object();
    std::string type = config.string("type");
    if (type == "TemplateProcessing") return make_template(config);
    if (type == "ByteLevel") return std::make_unique<NoOpPostProcessor>();  // offsets only
    if (type == "BertProcessing" || type == "RobertaProcessing") return make_cls_sep(config);
    if (type == "Sequence") {
        JsonPath list = config.at("processors");
        list.expect_array();
        std::vector<std::unique_ptr<PostProcessor>> parts;
        for (size_t i = 0; i < list.size(); ++i) {
            auto part = make_post_processor(list.at(i));
            if (part) parts.push_back(std::move(part));
        }
        return std::make_unique<SequencePostProcessor>(std::move(parts));
    }
    config.at("type").unsupported("post-processor", type);
}

}  // namespace llmtune::tokenizer
