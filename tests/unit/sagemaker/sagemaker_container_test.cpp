// The SageMaker training-container contract through the real binary, against a fake /opt/ml
// tree the test builds (LLMTUNE_SM_ROOT): a LoRA run on a tiny model with every output
// checked, a bad hyperparameter and a missing channel (each giving /opt/ml/output/failure and
// a non-zero exit), a resume from /opt/ml/checkpoints that ends with the same adapter as a
// straight run, and a bare `llmtune train` staying a usage error outside a container.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "common/json_file.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using llmtune::json;
using llmtune::test::read_file;
using llmtune::test::run_command;
using llmtune::test::TempDir;
using llmtune::test::write_file;

namespace {

// $LLMTUNE_BINARY overrides the build's binary (e.g. a copy while the build dir relinks it).
std::string bin() {
    const char* env = std::getenv("LLMTUNE_BINARY");
    return env && *env ? env : llmtune::test::llmtune_binary();
}

// A tiny random Qwen3 model, made once per test binary run and copied into each tree.
const std::string& tiny_model() {
    static TempDir dir;
    static std::string path = [] {
        std::string p = dir.file("model");
        auto r = run_command(bin() + " model init --arch qwen3 --preset tiny --tokenizer " +
                             llmtune::test::npm_tokenizer_dir("qwen3") + " --out " + p);
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return p;
    }();
    return path;
}

std::string chats(int n, int offset) {
    std::string out;
    for (int i = 0; i < n; ++i)
        out += "{\"messages\": [{\"role\": \"user\", \"content\": \"Question " +
               std::to_string(i + offset) + "?\"}, {\"role\": \"assistant\", \"content\": \"Answer " +
               std::to_string(i + offset) + ".\"}]}\n";
    return out;
}

// Builds <root>/input/{config,data} as SageMaker does for a job with these channels.
void make_tree(const std::string& root, const json& hyperparameters,
               const std::vector<std::string>& channels = {"train", "validation", "model"},
               const std::string& resources =
                   R"({"current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "eth0"})") {
    fs::create_directories(root + "/input/config");
    json idc = json::object();
    for (const auto& c : channels)
        idc[c] = {{"TrainingInputMode", "File"},
                  {"S3DistributionType", "FullyReplicated"},
                  {"RecordWrapperType", "None"}};
    write_file(root + "/input/config/inputdataconfig.json", idc.dump());
    write_file(root + "/input/config/hyperparameters.json", hyperparameters.dump());
    write_file(root + "/input/config/resourceconfig.json", resources);
    for (const auto& c : channels) fs::create_directories(root + "/input/data/" + c);
    if (std::find(channels.begin(), channels.end(), "train") != channels.end())
        write_file(root + "/input/data/train/train.jsonl", chats(6, 0));
    if (std::find(channels.begin(), channels.end(), "validation") != channels.end())
        write_file(root + "/input/data/validation/valid.jsonl", chats(2, 100));
    if (std::find(channels.begin(), channels.end(), "model") != channels.end())
        fs::copy(tiny_model(), root + "/input/data/model", fs::copy_options::recursive);
}

json lora_hyperparameters() {
    return {{"max_steps", "4"},      {"batch_size", "2"},     {"lora.r", "2"},
            {"max_seq_len", "32"},   {"learning_rate", "0.001"}, {"save_steps", "2"},
            {"eval_steps", "2"},     {"threads", "1"}};
}

llmtune::test::RunResult run_container(const std::string& root, const std::string& args = "train") {
    return run_command("LLMTUNE_SM_ROOT=" + root + " " + bin() + " " + args);
}

std::vector<json> read_events(const std::string& path) {
    std::vector<json> out;
    std::istringstream in(read_file(path));
    std::string line;
    while (std::getline(in, line))
        if (!line.empty()) out.push_back(json::parse(line));
    return out;
}

// The metric definitions the binary prints, applied to its stdout: name -> values in order.
std::map<std::string, std::vector<double>> scrape_metrics(const std::string& log) {
    auto defs = run_command(bin() + " sagemaker metric-definitions");
    EXPECT_EQ(defs.exit_code, 0) << defs.err;
    std::map<std::string, std::vector<double>> out;
    for (const auto& d : json::parse(defs.out)) {
        std::regex re(d["Regex"].get<std::string>(), std::regex::ECMAScript);
        std::istringstream in(log);
        std::string line;
        while (std::getline(in, line)) {
            std::smatch m;
            if (std::regex_search(line, m, re)) out[d["Name"]].push_back(std::stod(m[1].str()));
        }
    }
    return out;
}

}  // namespace

TEST(SageMakerContainer, LoraRunWritesAdapterMergedModelManifestAndMetrics) {
    TempDir d;
    const std::string root = d.file("ml");
    make_tree(root, lora_hyperparameters());
    // A bare `train`, as SageMaker starts the image.
    auto r = run_container(root);
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    EXPECT_NE(r.out.find("trained 4/4 steps (completed)"), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(root + "/output/failure"));

    const std::string m = root + "/model";
    for (const char* f : {"adapter/adapter_config.json", "adapter/adapter_model.safetensors",
                          "merged/config.json", "merged/model.safetensors", "merged/tokenizer.json",
                          "manifest.json", "events.jsonl"})
        EXPECT_TRUE(fs::exists(m + "/" + f)) << f;
    auto adapter_cfg = json::parse(read_file(m + "/adapter/adapter_config.json"));
    EXPECT_EQ(adapter_cfg["r"], 2);
    auto manifest = json::parse(read_file(m + "/manifest.json"));
    EXPECT_EQ(manifest["method"], "lora");
    EXPECT_EQ(manifest["sagemaker"]["current_host"], "algo-1");
    EXPECT_EQ(manifest["hyperparameters"]["training"]["max_steps"], 4);
    EXPECT_DOUBLE_EQ(manifest["hyperparameters"]["training"]["learning_rate"].get<double>(), 0.001);
    EXPECT_EQ(manifest["base_model"]["path"], root + "/input/data/model");
    ASSERT_EQ(manifest["datasets"].size(), 2u);
    // Checkpoints went to /opt/ml/checkpoints.
    EXPECT_TRUE(fs::exists(root + "/checkpoints/checkpoints/step-2/trainer_state.json"));
    EXPECT_TRUE(fs::exists(root + "/checkpoints/checkpoints/step-4/trainer_state.json"));

    // The merged model loads and generates.
    auto g = run_command(bin() + " generate --model " + m + "/merged --prompt hi --max-tokens 2");
    EXPECT_EQ(g.exit_code, 0) << g.err;

    // The documented regexes capture exactly the trainer's logged values.
    auto events = read_events(m + "/events.jsonl");
    std::vector<double> train_loss, valid_loss, tokens_per_s;
    for (const auto& e : events) {
        if (e["type"] == "train") {
            train_loss.push_back(e["train_loss"]);
            tokens_per_s.push_back(e["tokens_per_s"]);
        }
        if (e["type"] == "eval") valid_loss.push_back(e["valid_loss"]);
    }
    ASSERT_EQ(train_loss.size(), 4u);
    ASSERT_EQ(valid_loss.size(), 2u);
    auto scraped = scrape_metrics(r.out);
    ASSERT_EQ(scraped["train_loss"].size(), 4u) << r.out;
    ASSERT_EQ(scraped["valid_loss"].size(), 2u) << r.out;
    ASSERT_EQ(scraped["tokens_per_s"].size(), 4u) << r.out;
    for (size_t i = 0; i < 4; ++i) {
        EXPECT_NEAR(scraped["train_loss"][i], train_loss[i], 1e-6 * std::abs(train_loss[i]));
        EXPECT_NEAR(scraped["tokens_per_s"][i], tokens_per_s[i], 1e-6 * tokens_per_s[i]);
        EXPECT_GT(scraped["tokens_per_s"][i], 0);
    }
    for (size_t i = 0; i < 2; ++i)
        EXPECT_NEAR(scraped["valid_loss"][i], valid_loss[i], 1e-6 * std::abs(valid_loss[i]));
}

TEST(SageMakerContainer, BadHyperparameterWritesFailureNamingTheKey) {
    TempDir d;
    const std::string root = d.file("ml");
    json hp = lora_hyperparameters();
    hp["learning_rate"] = "fast";
    hp["lora_rank"] = "8";
    make_tree(root, hp);
    auto r = run_container(root, "sagemaker train");
    EXPECT_EQ(r.exit_code, 1) << r.err;
    ASSERT_TRUE(fs::exists(root + "/output/failure"));
    const std::string failure = read_file(root + "/output/failure");
    EXPECT_NE(failure.find("learning_rate (training.learning_rate): expected a number, got \"fast\""),
              std::string::npos) << failure;
    EXPECT_NE(failure.find("lora_rank: unknown hyperparameter"), std::string::npos) << failure;
    EXPECT_LE(failure.size(), 1024u);
    EXPECT_NE(r.err.find("llmtune: error: "), std::string::npos);
    EXPECT_FALSE(fs::exists(root + "/model/adapter"));
}

TEST(SageMakerContainer, MissingChannelWritesFailure) {
    TempDir d;
    // No model channel configured at all.
    std::string root = d.file("a");
    make_tree(root, lora_hyperparameters(), {"train"});
    auto r = run_container(root);
    EXPECT_NE(r.exit_code, 0);
    std::string failure = read_file(root + "/output/failure");
    EXPECT_NE(failure.find("the job has no 'model' channel"), std::string::npos) << failure;
    // The train channel is configured but its directory never arrived.
    root = d.file("b");
    make_tree(root, lora_hyperparameters());
    fs::remove_all(root + "/input/data/train");
    r = run_container(root);
    EXPECT_NE(r.exit_code, 0);
    failure = read_file(root + "/output/failure");
    EXPECT_NE(failure.find("channel 'train': " + root + "/input/data/train is missing"),
              std::string::npos) << failure;
    // An empty train channel.
    root = d.file("c");
    make_tree(root, lora_hyperparameters());
    fs::remove(root + "/input/data/train/train.jsonl");
    r = run_container(root);
    EXPECT_NE(r.exit_code, 0);
    failure = read_file(root + "/output/failure");
    EXPECT_NE(failure.find("channel 'train'"), std::string::npos) << failure;
    EXPECT_NE(failure.find("holds no files"), std::string::npos) << failure;
}

TEST(SageMakerContainer, ResumesFromCheckpointsAfterAnInterruption) {
    TempDir d;
    // A straight run.
    const std::string straight = d.file("straight");
    make_tree(straight, lora_hyperparameters());
    auto r = run_container(straight);
    ASSERT_EQ(r.exit_code, 0) << r.err;

    // The same job interrupted after its step-2 checkpoint reached /opt/ml/checkpoints: a new
    // container starts with that checkpoints dir restored and an empty /opt/ml/model. The
    // interrupted state is made by removing what the first attempt wrote after step 2.
    const std::string spot = d.file("spot");
    make_tree(spot, lora_hyperparameters());
    r = run_container(spot);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    fs::remove_all(spot + "/checkpoints/checkpoints/step-4");
    for (const char* f : {"adapter_config.json", "adapter_model.safetensors", "manifest.json"})
        fs::remove(spot + "/checkpoints/" + f);
    fs::remove_all(spot + "/model");
    fs::create_directories(spot + "/model");
    r = run_container(spot);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("resuming from the checkpoint"), std::string::npos) << r.err;
    EXPECT_NE(r.out.find("trained 4/4 steps (completed) resumed from step 2"), std::string::npos)
        << r.out;
    // Only steps 3 and 4 were trained again, and they end where the straight run ended.
    auto scraped = scrape_metrics(r.out);
    EXPECT_EQ(scraped["train_loss"].size(), 2u) << r.out;
    EXPECT_EQ(read_file(spot + "/model/adapter/adapter_model.safetensors"),
              read_file(straight + "/model/adapter/adapter_model.safetensors"));
    auto manifest = json::parse(read_file(spot + "/model/manifest.json"));
    EXPECT_EQ(manifest["sagemaker"]["resumed_from_step"], 2);
}

TEST(SageMakerContainer, BareTrainOutsideAContainerIsStillAUsageError) {
    TempDir d;
    // LLMTUNE_SM_ROOT pointing at a tree without input/config: not a container.
    auto r = run_command("LLMTUNE_SM_ROOT=" + d.path() + " " + bin() + " train");
    EXPECT_EQ(r.exit_code, 2) << r.err;
    r = run_command("LLMTUNE_SM_ROOT=" + d.path() + " " + bin() + " sagemaker train");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("inputdataconfig.json"), std::string::npos) << r.err;
}

TEST(SageMakerContainer, TwoInstancesTrainAsTwoRanks) {
    // Two containers on this machine as hosts "localhost" (rank 0, the rendezvous) and
    // "algo-2" (rank 1): one data-parallel run whose outputs only the first host writes.
    TempDir d;
    const std::string a = d.file("host-a"), b = d.file("host-b");
    const std::string hosts = R"("hosts": ["localhost", "algo-2"], "network_interface_name": "eth0"})";
    make_tree(a, lora_hyperparameters(), {"train", "validation", "model"},
              R"({"current_host": "localhost", )" + hosts);
    make_tree(b, lora_hyperparameters(), {"train", "validation", "model"},
              R"({"current_host": "algo-2", )" + hosts);
    // A port of this test's own (the default is torch's 29500).
    const std::string port = std::to_string(29500 + 1 + (::getpid() % 2000));
    const std::string env = "LLMTUNE_SM_MASTER_PORT=" + port + " LLMTUNE_DIST_TIMEOUT_S=120 ";
    llmtune::test::RunResult ra, rb;
    std::thread other([&] { rb = run_command(env + "LLMTUNE_SM_ROOT=" + b + " " + bin() + " train"); });
    ra = run_command(env + "LLMTUNE_SM_ROOT=" + a + " " + bin() + " train");
    other.join();
    ASSERT_EQ(ra.exit_code, 0) << ra.err;
    ASSERT_EQ(rb.exit_code, 0) << rb.err;
    EXPECT_NE(ra.err.find("host localhost is rank 0 of 2"), std::string::npos) << ra.err;
    EXPECT_NE(rb.err.find("host algo-2 is rank 1 of 2"), std::string::npos) << rb.err;
    EXPECT_TRUE(fs::exists(a + "/model/adapter/adapter_model.safetensors"));
    EXPECT_TRUE(fs::exists(a + "/model/merged/model.safetensors"));
    EXPECT_TRUE(!fs::exists(b + "/model") || fs::is_empty(b + "/model"));
    // Metric lines come from the first host only.
    EXPECT_EQ(scrape_metrics(ra.out)["train_loss"].size(), 4u) << ra.out;
    EXPECT_TRUE(scrape_metrics(rb.out)["train_loss"].empty()) << rb.out;
    auto manifest = json::parse(read_file(a + "/model/manifest.json"));
    EXPECT_EQ(manifest["sagemaker"]["hosts"].size(), 2u);
}
