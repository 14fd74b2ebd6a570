// The training config: YAML and JSON give the same struct, every bad key or value is reported
// at once with its path, unknown keys are refused; the data order is a seeded permutation.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "common/error.h"
#include "support/test_support.h"
#include "train/data_order.h"
#include "train/train_config.h"

namespace llmtune::train {
namespace {

const char* kYaml = R"(
model:
  path: base
  dtype: bf16
lora:
  r: 16
  alpha: 32
  target_modules: [q, v_proj]
data:
  train: [a.jsonl, b.jsonl]
  validation: v.jsonl
  max_seq_len: 256
  packing: true
training:
  epochs: 2
  batch_size: 8
  learning_rate: 2e-4
  lr_scheduler_type: cosine
  warmup_ratio: 0.1
  seed: 7
eval:
  eval_steps: 10
output:
  dir: out
  save_steps: 5
threads: 2
)";

const char* kJson = R"({
  "model": {"path": "base", "dtype": "bf16"},
  "lora": {"r": 16, "alpha": 32, "target_modules": ["q", "v_proj"]},
  "data": {"train": ["a.jsonl", "b.jsonl"], "validation": "v.jsonl", "max_seq_len": 256,
           "packing": true},
  "training": {"epochs": 2, "batch_size": 8, "learning_rate": 0.0002,
               "lr_scheduler_type": "cosine", "warmup_ratio": 0.1, "seed": 7},
  "eval": {"eval_steps": 10},
  "output": {"dir": "out", "save_steps": 5},
  "threads": 2
})";

// The error message of parsing `text`, or "" when it parses.
std::string parse_error(const std::string& text, bool yaml = true) {
    try {
        parse_train_config(text, "cfg", yaml, "/base");
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
        return e.message();
    }
    return "";
}

const char* kMinimal = "model: {path: m}\ndata: {train: t.jsonl}\noutput: {dir: o}\n";

TEST(TrainConfig, YamlAndJsonGiveTheSameSettings) {
    TrainConfig y = parse_train_config(kYaml, "cfg.yaml", true, "/work/x");
    TrainConfig j = parse_train_config(kJson, "cfg.json", false, "/work/x");
    EXPECT_EQ(y.to_json(), j.to_json());
    EXPECT_EQ(y.model.path, "/work/x/base");
    EXPECT_EQ(y.model.dtype, "bf16");
    EXPECT_EQ(y.lora.r, 16);
    EXPECT_EQ(y.lora.target_modules, (std::vector<std::string>{"q", "v_proj"}));
    EXPECT_EQ(y.data.train, (std::vector<std::string>{"/work/x/a.jsonl", "/work/x/b.jsonl"}));
    EXPECT_EQ(y.data.validation, "/work/x/v.jsonl");
    EXPECT_TRUE(y.data.packing);
    EXPECT_DOUBLE_EQ(y.training.learning_rate, 2e-4);
    EXPECT_EQ(y.training.lr_scheduler_type, "cosine");
    EXPECT_EQ(y.training.seed, 7u);
    EXPECT_EQ(y.output.dir, "/work/x/out");
    EXPECT_EQ(y.threads, 2);
}

TEST(TrainConfig, DefaultsFillWhatIsNotGiven) {
    TrainConfig c = parse_train_config(kMinimal, "cfg", true, "/b");
    TrainConfig d;
    EXPECT_EQ(c.training.learning_rate, d.training.learning_rate);
    EXPECT_EQ(c.lora.target_modules, d.lora.target_modules);
    EXPECT_EQ(c.data.max_seq_len, d.data.max_seq_len);
    EXPECT_EQ(c.data.train, std::vector<std::string>{"/b/t.jsonl"});  // a string is a list of one
    EXPECT_EQ(c.method(), TrainMethod::lora);
}

TEST(TrainConfig, QuotedScalarsStayStrings) {
    // "16" quoted is a string, so r is reported as not an integer.
    std::string err = parse_error(std::string(kMinimal) + "lora: {r: \"16\"}\n");
    EXPECT_NE(err.find("lora.r (line 4): expected an integer, found a string \"16\""),
              std::string::npos)
        << err;
}

TEST(TrainConfig, UnknownKeysAreRefusedWithASuggestion) {
    std::string err = parse_error(std::string(kMinimal) +
                                  "training: {learning_rat: 0.1, batch_size: 2}\nextra: 1\n");
    EXPECT_NE(
        err.find("training.learning_rat (line 4): unknown key (did you mean 'learning_rate'?)"),
        std::string::npos)
        << err;
    EXPECT_NE(err.find("extra (line 5): unknown key"), std::string::npos) << err;
    EXPECT_NE(err.find("2 problems"), std::string::npos) << err;
    // JSON too.
    err = parse_error(R"({"model": {"path": "m", "dtyp": "f32"}, "data": {"train": "t"},
                          "output": {"dir": "o"}})",
                      false);
    EXPECT_NE(err.find("model.dtyp: unknown key (did you mean 'dtype'?)"), std::string::npos)
        << err;
}

TEST(TrainConfig, EveryOutOfRangeValueIsReportedAtOnce) {
    const std::string text = R"(
model: {path: m, dtype: f16, device: tpu}
lora: {r: 0, alpha: -1, dropout: 1.0, target_modules: [q, attn]}
data: {train: t, validation_split: 1.5, max_seq_len: 1}
training:
  epochs: 0
  batch_size: 0
  gradient_accumulation_steps: -2
  learning_rate: -0.001
  lr_scheduler_type: exponential
  warmup_steps: -1
  weight_decay: -0.1
  adam_beta1: 1.0
  adam_beta2: 1.5
  adam_epsilon: 0
  max_grad_norm: -1
eval: {eval_steps: -5, early_stopping_patience: 2}
output: {dir: o, save_steps: -1}
threads: -3
)";
    std::string err = parse_error(text);
    for (const char* key : {"model.dtype",
                            "model.device",
                            "lora.r",
                            "lora.alpha",
                            "lora.dropout",
                            "lora.target_modules[1]",
                            "data.validation_split",
                            "data.max_seq_len",
                            "training.epochs",
                            "training.batch_size",
                            "training.gradient_accumulation_steps",
                            "training.learning_rate",
                            "training.lr_scheduler_type",
                            "training.warmup_steps",
                            "training.weight_decay",
                            "training.adam_beta1",
                            "training.adam_beta2",
                            "training.adam_epsilon",
                            "training.max_grad_norm",
                            "eval.eval_steps",
                            "output.save_steps",
                            "threads"})
        EXPECT_NE(err.find(std::string("\n  ") + key), std::string::npos) << key << "\n" << err;
    // Line numbers point into the YAML.
    EXPECT_NE(err.find("training.learning_rate (line 9): must be a finite number > 0 (got -0.001)"),
              std::string::npos)
        << err;
}

TEST(TrainConfig, RequiredSettingsAndTypes) {
    std::string err = parse_error("");
    EXPECT_NE(err.find("model.path: required"), std::string::npos) << err;
    EXPECT_NE(err.find("data.train: required"), std::string::npos) << err;
    EXPECT_NE(err.find("output.dir: required"), std::string::npos) << err;
    err = parse_error(std::string(kMinimal) + "training: {packing: yes, epochs: 1.5, seed: -1}\n");
    EXPECT_NE(err.find("training.packing (line 4): unknown key"), std::string::npos) << err;
    EXPECT_NE(err.find("training.epochs (line 4): expected an integer, found a number 1.5"),
              std::string::npos)
        << err;
    EXPECT_NE(err.find("training.seed (line 4): expected a non-negative integer"),
              std::string::npos)
        << err;
    err = parse_error(std::string(kMinimal) + "data: {packing: yes}\n");
    EXPECT_NE(err.find("duplicate key"), std::string::npos) << err;
    err = parse_error("model: [1, 2]\n");
    EXPECT_NE(err.find("model (line 1): expected a mapping of settings, found an array"),
              std::string::npos)
        << err;
    err = parse_error("model: {path: m\n");
    EXPECT_NE(err.find("YAML syntax error"), std::string::npos) << err;
    err = parse_error("{\"model\": ", false);
    EXPECT_NE(err.find("cfg"), std::string::npos) << err;
}

TEST(TrainConfig, CombinationsThatCannotWork) {
    std::string err = parse_error(std::string(kMinimal) + "training: {method: full}\n");
    EXPECT_EQ(err, "");  // full with the default f32 is fine
    err = parse_error(
        "model: {path: m, dtype: bf16}\ndata: {train: t}\noutput: {dir: o}\n"
        "training: {method: full}\n");
    EXPECT_NE(err.find("model.dtype (line 1): full fine-tuning trains the base weights"),
              std::string::npos)
        << err;
    err = parse_error(std::string(kMinimal) + "training: {warmup_steps: 3, warmup_ratio: 0.1}\n");
    EXPECT_NE(err.find("not both"), std::string::npos) << err;
    err = parse_error(
        "model: {path: m}\ndata: {train: t, validation: v, validation_split: 0.1}\n"
        "output: {dir: o}\n");
    EXPECT_NE(err.find("data.validation_split"), std::string::npos) << err;
    err = parse_error(std::string(kMinimal) + "eval: {early_stopping_patience: 3}\n");
    EXPECT_NE(err.find("early stopping watches valid_loss"), std::string::npos) << err;
}

TEST(TrainConfig, ResumeRelevantSettingsAndDifferences) {
    TrainConfig a = parse_train_config(kYaml, "a", true, "/x");
    TrainConfig b = a;
    b.output.dir = "/elsewhere";
    b.eval.eval_steps = 99;
    b.threads = 1;
    b.data.train = {"/moved/a.jsonl", "/moved/b.jsonl"};  // hashes are compared instead
    EXPECT_EQ(a.resume_relevant_json(), b.resume_relevant_json());
    b.training.learning_rate = 1e-3;
    b.lora.r = 4;
    auto diffs = json_differences(a.resume_relevant_json(), b.resume_relevant_json());
    ASSERT_EQ(diffs.size(), 2u);
    EXPECT_EQ(diffs[0], "lora.r: 16 -> 4");
    EXPECT_EQ(diffs[1], "training.learning_rate: 0.0002 -> 0.001");
}

TEST(TrainConfig, LoadsFilesByExtension) {
    test::TempDir dir;
    test::write_file(dir.file("c.yaml"), kYaml);
    test::write_file(dir.file("c.json"), kJson);
    test::write_file(dir.file("c.txt"), kJson);
    EXPECT_EQ(load_train_config(dir.file("c.yaml")).to_json(),
              load_train_config(dir.file("c.json")).to_json());
    EXPECT_EQ(load_train_config(dir.file("c.yaml")).model.path, dir.file("base"));
    EXPECT_THROW(load_train_config(dir.file("c.txt")), Error);
    try {
        load_train_config(dir.file("missing.yaml"));
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::not_found);
    }
}

TEST(TrainConfig, TheExampleConfigParses) {
    TrainConfig c = load_train_config(std::string(LLMTUNE_SOURCE_DIR) + "/examples/lora-tiny.yaml");
    EXPECT_EQ(c.method(), TrainMethod::lora);
}

TEST(DataOrder, EachEpochIsASeededPermutation) {
    auto p0 = epoch_permutation(100, 42, 0);
    auto p1 = epoch_permutation(100, 42, 1);
    auto sorted = p0;
    std::sort(sorted.begin(), sorted.end());
    for (int64_t i = 0; i < 100; ++i)
        EXPECT_EQ(sorted[static_cast<size_t>(i)], i);
    EXPECT_NE(p0, p1);
    EXPECT_EQ(p0, epoch_permutation(100, 42, 0));
    EXPECT_NE(p0, epoch_permutation(100, 43, 0));
    // Every position is reachable: over many epochs each item visits the first slot.
    std::set<int64_t> first;
    for (int64_t e = 0; e < 400; ++e)
        first.insert(epoch_permutation(10, 1, e)[0]);
    EXPECT_EQ(first.size(), 10u);
}

TEST(DataOrder, BatchesCoverEachEpochAndSeekResumes) {
    DataOrder order(10, 4, 3);
    EXPECT_EQ(order.batches_per_epoch(), 3);
    std::vector<int64_t> seen;
    for (int i = 0; i < 3; ++i) {
        auto b = order.next_batch();
        EXPECT_EQ(b.size(), i < 2 ? 4u : 2u);
        seen.insert(seen.end(), b.begin(), b.end());
    }
    EXPECT_EQ(seen, epoch_permutation(10, 3, 0));
    EXPECT_EQ(order.position(), (DataPosition{1, 0}));
    auto b4 = order.next_batch();
    auto b5 = order.next_batch();
    DataOrder resumed(10, 4, 3);
    resumed.seek({1, 1});
    EXPECT_EQ(resumed.next_batch(), b5);
    EXPECT_NE(b4, b5);
    EXPECT_THROW(resumed.seek({0, 3}), Error);
}

}  // namespace
}  // namespace llmtune::train
