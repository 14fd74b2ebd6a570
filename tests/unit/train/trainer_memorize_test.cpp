// Memorization: a tiny model learns the 16 chats of examples/chat-tiny.jsonl by heart, with
// the example configs examples/lora-tiny.yaml and examples/full-tiny.yaml: the final train
// loss is below 0.05 and greedy generation from each prompt reproduces the assistant answer
// token for token, end-of-turn included.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/json_file.h"
#include "data/canonical_record.h"
#include "data/chat_encoding.h"
#include "infer/generator.h"
#include "model/loader.h"
#include "model/model_config.h"
#include "model/peft_adapter.h"
#include "train/trainer.h"
#include "trainer_test_util.h"

namespace fs = std::filesystem;

namespace llmtune::train {
namespace {

using namespace testing;

const std::string kExamples = std::string(LLMTUNE_SOURCE_DIR) + "/examples";

// Trains with the example config `name`, on a model made in a scratch directory.
TrainResult train_example(const test::TempDir& d, const std::string& name, double norm_scale) {
    make_tiny_model(d.file("tiny-model"), norm_scale, 2);
    TrainConfig c = load_train_config(kExamples + "/" + name);
    c.model.path = d.file("tiny-model");
    c.output.dir = d.file("run");
    return run_training(c);
}

// Greedy generation from each record's prompt gives exactly its trained tokens.
void expect_memorized(model::CausalLM& lm, const std::string& model_dir) {
    data::EncodeOptions eo;
    eo.max_seq_len = 128;
    data::ExampleEncoder encoder(model_dir, eo);
    const auto cfg = model::load_model_config(model_dir);
    infer::GenerationParams gp;
    gp.max_tokens = 40;
    gp.sampling.temperature = 0;
    gp.eos_ids = infer::load_eos_ids(model_dir, cfg);
    ASSERT_FALSE(gp.eos_ids.empty());
    const std::string text = test::read_file(kExamples + "/chat-tiny.jsonl");
    size_t begin = 0;
    int records = 0;
    while (begin < text.size()) {
        const size_t end = text.find('\n', begin);
        const std::string line = text.substr(begin, end - begin);
        begin = end + 1;
        data::CanonicalRecord rec{data::RecordKind::chat, ordered_json::parse(line)};
        auto toks = encoder.tokens(rec);
        size_t first = 0;
        while (first < toks.trained.size() && !toks.trained[first])
            ++first;
        ASSERT_LT(first, toks.ids.size());
        std::vector<int64_t> prompt(toks.ids.begin(), toks.ids.begin() + first);
        std::vector<int64_t> expected(toks.ids.begin() + first, toks.ids.end());
        auto r = infer::generate(lm, prompt, gp);
        std::vector<int64_t> got = r.tokens;
        if (r.finish_reason == "stop") got.push_back(expected.back());  // the EOS that ended it
        EXPECT_EQ(got, expected) << "record " << records << ": " << line;
        ++records;
    }
    EXPECT_EQ(records, 16);
}

TEST(TrainerMemorize, LoraLearnsSixteenChats) {
    test::TempDir d;
    // A random base's frozen output layer caps its logits (see make_tiny_model); a sharper
    // final norm lets the adapters reach a low loss.
    const TrainResult r = train_example(d, "lora-tiny.yaml", 30.0);
    EXPECT_LT(r.final_metrics["train_loss"].get<double>(), 0.05) << r.final_metrics.dump();
    auto lm = model::load_causal_lm(d.file("tiny-model"), {});
    model::load_peft_adapter(d.file("run"), lm);
    expect_memorized(lm, d.file("tiny-model"));
}

TEST(TrainerMemorize, FullFineTuningLearnsSixteenChats) {
    test::TempDir d;
    const TrainResult r = train_example(d, "full-tiny.yaml", 1.0);
    EXPECT_LT(r.final_metrics["train_loss"].get<double>(), 0.05) << r.final_metrics.dump();
    auto lm = model::load_causal_lm(d.file("run"), {});
    expect_memorized(lm, d.file("run"));
}

}  // namespace
}  // namespace llmtune::train
