// The container contract's torch-free parts: hyperparameters.json (strings) into the training
// config with errors naming the key, inputdataconfig.json and resourceconfig.json, the c10d
// rendezvous env, and the metric lines against their MetricDefinitions regexes.
#include <gtest/gtest.h>

#include <regex>

#include "common/error.h"
#include "sagemaker/hyperparameters.h"
#include "sagemaker/input_config.h"
#include "sagemaker/metric_lines.h"

using namespace llmtune;
using namespace llmtune::sagemaker;

namespace {

ContainerPaths paths() {
    ContainerPaths p;
    p.model_dir = "/opt/ml/input/data/model";
    p.train_files = {"/opt/ml/input/data/train/a.jsonl"};
    p.output_dir = "/opt/ml/checkpoints";
    return p;
}

std::string error_of(const json& hp) {
    try {
        config_from_hyperparameters(hp, "hyperparameters.json", paths());
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
        return e.message();
    }
    ADD_FAILURE() << "no error for " << hp.dump();
    return "";
}

}  // namespace

TEST(SageMakerHyperparameters, StringsBecomeTypedSettings) {
    json hp = {{"training.learning_rate", "2e-4"}, {"epochs", "2"},        {"lora.r", "4"},
               {"alpha", "8.5"},                   {"packing", "True"},    {"seed", "7"},
               {"target_modules", "q_proj, v_proj"}, {"lr_scheduler_type", "cosine"},
               {"max_seq_len", "64"},              {"sagemaker_program", "x.py"}};
    auto r = config_from_hyperparameters(hp, "hp", paths());
    const auto& c = r.config;
    EXPECT_DOUBLE_EQ(c.training.learning_rate, 2e-4);
    EXPECT_EQ(c.training.epochs, 2);
    EXPECT_EQ(c.lora.r, 4);
    EXPECT_DOUBLE_EQ(c.lora.alpha, 8.5);
    EXPECT_TRUE(c.data.packing);
    EXPECT_EQ(c.training.seed, 7u);
    EXPECT_EQ(c.lora.target_modules, (std::vector<std::string>{"q_proj", "v_proj"}));
    EXPECT_EQ(c.training.lr_scheduler_type, "cosine");
    EXPECT_EQ(c.data.max_seq_len, 64);
    EXPECT_EQ(c.model.path, "/opt/ml/input/data/model");
    EXPECT_EQ(c.data.train, paths().train_files);
    EXPECT_EQ(c.output.dir, "/opt/ml/checkpoints");
    EXPECT_EQ(r.ignored, std::vector<std::string>{"sagemaker_program"});
    // A JSON list works too.
    auto r2 = config_from_hyperparameters({{"lora.target_modules", "[\"q\",\"k\"]"}}, "hp", paths());
    EXPECT_EQ(r2.config.lora.target_modules, (std::vector<std::string>{"q", "k"}));
    // Defaults stay when nothing is given.
    auto r3 = config_from_hyperparameters(json::object(), "hp", paths());
    EXPECT_EQ(r3.config.training.batch_size, 4);
}

TEST(SageMakerHyperparameters, EveryBadKeyIsNamed) {
    std::string m = error_of({{"learning_rate", "fast"},
                              {"training.epochs", "2.5"},
                              {"lora.use_rslora", "yes"},
                              {"learnin_rate", "1"},
                              {"batch_size", 4}});
    EXPECT_NE(m.find("5 bad hyperparameters"), std::string::npos) << m;
    EXPECT_NE(m.find("learning_rate (training.learning_rate): expected a number, got \"fast\""),
              std::string::npos) << m;
    EXPECT_NE(m.find("training.epochs: expected an integer, got \"2.5\""), std::string::npos) << m;
    EXPECT_NE(m.find("lora.use_rslora: expected true or false, got \"yes\""), std::string::npos) << m;
    EXPECT_NE(m.find("learnin_rate: unknown hyperparameter (did you mean 'learning_rate'?)"),
              std::string::npos) << m;
    EXPECT_NE(m.find("batch_size: expected a string value"), std::string::npos) << m;
}

TEST(SageMakerHyperparameters, RangeErrorsNameTheKeyGiven) {
    std::string m = error_of({{"learning_rate", "-1"}, {"lora.r", "0"}});
    EXPECT_NE(m.find("training.learning_rate (hyperparameter 'learning_rate'): must be a finite "
                     "number > 0"),
              std::string::npos) << m;
    EXPECT_NE(m.find("lora.r: must be"), std::string::npos) << m;
    m = error_of({{"seed", "-3"}});
    EXPECT_NE(m.find("seed (training.seed): expected a non-negative integer"), std::string::npos) << m;
    m = error_of({{"learning_rate", "nan"}, {"weight_decay", "-inf"}});
    EXPECT_NE(m.find("learning_rate (training.learning_rate): expected a finite number, got \"nan\""),
              std::string::npos) << m;
    EXPECT_NE(m.find("weight_decay (training.weight_decay): expected a finite number"),
              std::string::npos) << m;
}

TEST(SageMakerHyperparameters, ContainerPathsAndDuplicatesAreRefused) {
    std::string m = error_of({{"model.path", "/x"}, {"output.dir", "/y"}});
    EXPECT_NE(m.find("model.path: cannot be set as a hyperparameter: the base model comes from "
                     "the 'model' channel"),
              std::string::npos) << m;
    EXPECT_NE(m.find("output.dir: cannot be set"), std::string::npos) << m;
    m = error_of({{"epochs", "1"}, {"training.epochs", "2"}});
    EXPECT_NE(m.find("already sets"), std::string::npos) << m;
    m = error_of(json::array());
    EXPECT_NE(m.find("expected a JSON object"), std::string::npos) << m;
}

TEST(SageMakerHyperparameters, StringFormRoundTrips) {
    // What the backend sends is what the container reads back.
    EXPECT_EQ(hyperparameter_string(ordered_json(0.0002)), "0.0002");
    EXPECT_EQ(hyperparameter_string(ordered_json(16.0)), "16");
    EXPECT_EQ(hyperparameter_string(ordered_json(0.0)), "0");
    EXPECT_EQ(hyperparameter_string(ordered_json(1e-8)), "1e-8");
    EXPECT_EQ(hyperparameter_string(ordered_json(1.5e-7)), "1.5e-7");
    EXPECT_EQ(hyperparameter_string(ordered_json(0.000001)), "0.000001");
    EXPECT_EQ(hyperparameter_string(ordered_json(123.456)), "123.456");
    EXPECT_EQ(hyperparameter_string(ordered_json(1e21)), "1e+21");
    EXPECT_EQ(hyperparameter_string(ordered_json(-2.5)), "-2.5");
    EXPECT_EQ(hyperparameter_string(ordered_json(0.1)), "0.1");
    EXPECT_EQ(hyperparameter_string(ordered_json(int64_t{42})), "42");
    EXPECT_EQ(hyperparameter_string(ordered_json(true)), "true");
    EXPECT_EQ(hyperparameter_string(ordered_json("cosine")), "cosine");
    EXPECT_EQ(hyperparameter_string(ordered_json({"q_proj", "v_proj"})), "[\"q_proj\",\"v_proj\"]");
    json hp;
    train::TrainConfig want;
    want.training.learning_rate = 3.3e-5;
    want.lora.target_modules = {"q_proj"};
    want.data.packing = true;
    for (const auto& key : hyperparameter_keys()) {
        const auto dot = key.find('.');
        ordered_json v = dot == std::string::npos ? want.to_json()[key]
                                                  : want.to_json()[key.substr(0, dot)][key.substr(dot + 1)];
        hp[key] = hyperparameter_string(v);
    }
    auto got = config_from_hyperparameters(hp, "hp", paths()).config;
    EXPECT_DOUBLE_EQ(got.training.learning_rate, 3.3e-5);
    EXPECT_EQ(got.lora.target_modules, want.lora.target_modules);
    EXPECT_TRUE(got.data.packing);
}

TEST(SageMakerInputConfig, ChannelsAndResources) {
    auto ch = parse_input_data_config(
        json::parse(R"({"train": {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated",
                        "RecordWrapperType": "None"}, "model": {"TrainingInputMode": "FastFile"}})"),
        "idc");
    ASSERT_EQ(ch.size(), 2u);
    EXPECT_EQ(ch["model"].input_mode, "FastFile");
    try {
        parse_input_data_config(json::parse(R"({"train": {"TrainingInputMode": "Pipe"}})"), "idc");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(e.message().find("channel 'train' uses TrainingInputMode Pipe"), std::string::npos);
    }

    auto rc = parse_resource_config(
        json::parse(R"({"current_host": "algo-2", "hosts": ["algo-1", "algo-2", "algo-3"],
                        "network_interface_name": "eth0"})"),
        "rc");
    auto env = rendezvous_env(rc);
    EXPECT_EQ(env.rank, 1);
    EXPECT_EQ(env.world_size, 3);
    EXPECT_EQ(env.master_addr, "algo-1");
    EXPECT_EQ(env.master_port, 29500);
    EXPECT_THROW(parse_resource_config(json::parse(R"({"current_host": "algo-9", "hosts": ["algo-1"]})"), "rc"),
                 Error);
    EXPECT_THROW(parse_resource_config(json::parse(R"({"hosts": ["algo-1"]})"), "rc"), Error);
    EXPECT_THROW(parse_resource_config(json::parse(R"({"current_host": "a", "hosts": ["a", "a"]})"), "rc"),
                 Error);
}

TEST(SageMakerMetrics, RegexesCaptureTheLoggedValues) {
    auto find = [](const std::string& name) {
        for (const auto& d : metric_definitions())
            if (d.name == name) return std::regex(d.regex, std::regex::ECMAScript);
        ADD_FAILURE() << name;
        return std::regex("x");
    };
    auto capture = [](const std::regex& re, const std::string& line) {
        std::smatch m;
        return std::regex_search(line, m, re) ? std::stod(m[1].str()) : -999.0;
    };
    const std::string train = metric_line(
        {{"type", "train"}, {"step", 3}, {"train_loss", 2.5e-5}, {"tokens_per_s", 1234.5}, {"lr", 0.0001}});
    const std::string eval = metric_line(
        {{"type", "eval"}, {"step", 3}, {"valid_loss", 1.25}, {"valid_mean_token_accuracy", 0.5}});
    EXPECT_DOUBLE_EQ(capture(find("train_loss"), train), 2.5e-5) << train;
    EXPECT_DOUBLE_EQ(capture(find("tokens_per_s"), train), 1234.5) << train;
    EXPECT_DOUBLE_EQ(capture(find("learning_rate"), train), 0.0001) << train;
    EXPECT_DOUBLE_EQ(capture(find("valid_loss"), eval), 1.25) << eval;
    EXPECT_DOUBLE_EQ(capture(find("valid_mean_token_accuracy"), eval), 0.5) << eval;
    // No cross-matches: the eval line has no train_loss, the train line no valid_loss.
    EXPECT_EQ(capture(find("train_loss"), eval), -999.0);
    EXPECT_EQ(capture(find("valid_loss"), train), -999.0);
    EXPECT_EQ(capture(find("train_loss"), "loss went down: train_loss=3"), -999.0);
    EXPECT_EQ(metric_line({{"type", "checkpoint"}, {"step", 3}}), "");
}
