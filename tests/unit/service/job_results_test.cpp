// What a job leaves besides its model, and what the API tells about it: the result file (step
// metrics CSV), the running cost from measured throughput, checkpoints served as models (and
// project isolation for them), the estimate column the scheduler never overwrites, and the
// estimator over a stored job (token statistics from the file, catalog hardware, errors naming
// the param). No torch, no HTTP.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "common/error.h"
#include "service/blob_store.h"
#include "service/checkpoint_models.h"
#include "service/job_cost.h"
#include "service/job_estimate.h"
#include "service/job_spec.h"
#include "service/result_files.h"
#include "service/service_error.h"
#include "service/sqlite_store.h"
#include "support/test_support.h"
#include "tokenizer/default_chat_templates.h"

using namespace llmtune;
using namespace llmtune::service;
using llmtune::test::TempDir;
namespace fs = std::filesystem;

namespace {

JobRecord make_job(const std::string& id, const std::string& project, const std::string& method) {
    JobRecord j;
    j.id = id;
    j.project_id = project;
    j.model = "tiny";
    j.training_file = "file-train";
    JobSpec spec;
    spec.method = method;
    j.spec_json = spec.to_json().dump();
    j.created_at = 1;
    return j;
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    size_t at = 0;
    while (at < text.size()) {
        size_t nl = text.find('\n', at);
        out.push_back(text.substr(at, nl - at));
        at = nl == std::string::npos ? text.size() : nl + 1;
    }
    return out;
}

}  // namespace

TEST(ResultFiles, OneRowPerStepEvalOnItsStepResumedStepKeepsItsLastValues) {
    TempDir dir;
    test::write_file(dir.file("events.jsonl"),
                     R"({"type":"start","step":0,"total_steps":3}
{"type":"train","step":1,"train_loss":2.5,"train_mean_token_accuracy":0.25,"lr":0.001,"tokens":40,"tokens_per_s":100}
{"type":"train","step":2,"train_loss":2.0,"train_mean_token_accuracy":0.5,"lr":0.001,"tokens":40,"tokens_per_s":80}
{"type":"eval","step":2,"valid_loss":2.25,"valid_mean_token_accuracy":0.4}
{"type":"checkpoint","step":2,"path":"x"}
not json
{"type":"resume","step":1,"total_steps":3}
{"type":"train","step":2,"train_loss":1.75,"train_mean_token_accuracy":0.625,"lr":0.001,"tokens":40,"tokens_per_s":90}
{"type":"train","step":3,"train_loss":1.5,"lr":0.0005,"tokens":32,"tokens_per_s":64}
)");
    auto rows = lines(step_metrics_csv(dir.file("events.jsonl")));
    ASSERT_EQ(rows.size(), 4u);
    EXPECT_EQ(rows[0],
              "step,train_loss,train_mean_token_accuracy,valid_loss,valid_mean_token_accuracy,"
              "learning_rate,tokens,tokens_per_s");
    EXPECT_EQ(rows[1], "1,2.5,0.25,,,0.001,40,100");
    EXPECT_EQ(rows[2], "2,1.75,0.625,2.25,0.4,0.001,40,90");
    EXPECT_EQ(rows[3], "3,1.5,,,,0.0005,32,64");
    EXPECT_THROW(step_metrics_csv(dir.file("missing.jsonl")), Error);
}

TEST(ResultFiles, StoredAsAProcessedFileOfTheJobsProjectOnly) {
    TempDir dir;
    SqliteStore store(dir.file("llmtune.db"));
    store.create_project({"proj_a", "a", 1});
    store.create_project({"proj_b", "b", 1});
    LocalBlobStore blobs(dir.path());
    const std::string csv = "step,train_loss\n1,2\n2,1\n";
    FileRecord f = store_result_file(store, blobs, make_job("ftjob-1", "proj_a", "lora"), csv);
    auto got = store.get_file("proj_a", f.id);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->purpose, "fine-tune-results");
    EXPECT_EQ(got->status, kFileProcessed);
    EXPECT_EQ(got->bytes, static_cast<int64_t>(csv.size()));
    EXPECT_EQ(got->canonical_records, 2);
    EXPECT_EQ(test::read_file(blobs.path(got->blob_sha256)), csv);
    EXPECT_FALSE(store.get_file("proj_b", f.id));
}

TEST(JobCost, MeasuredSecondsTimesThePriceAndNullWithoutOne) {
    JobRecord j = make_job("ftjob-1", "proj_a", "lora");
    // step 1: 200 tokens at 100 tokens/s = 2 s; 10 s to go.
    update_job_cost(j, {{"type", "train"}, {"step", 1}, {"tokens", 200}, {"tokens_per_s", 100.0}, {"eta_s", 10.0}},
                    3.6);
    j.last_step = 1;
    auto c = ordered_json::parse(j.cost_json);
    EXPECT_DOUBLE_EQ(c["measured_seconds"].get<double>(), 2.0);
    EXPECT_DOUBLE_EQ(c["so_far_usd"].get<double>(), 3.6 * 2.0 / 3600);
    EXPECT_DOUBLE_EQ(c["projected_usd"].get<double>(), 3.6 * 12.0 / 3600);
    // The same step again (a resume re-did it) adds no time; a new one does.
    update_job_cost(j, {{"type", "train"}, {"step", 1}, {"tokens", 200}, {"tokens_per_s", 100.0}}, 3.6);
    EXPECT_DOUBLE_EQ(ordered_json::parse(j.cost_json)["measured_seconds"].get<double>(), 2.0);
    EXPECT_TRUE(ordered_json::parse(j.cost_json)["projected_usd"].is_null());  // no eta given
    update_job_cost(j, {{"type", "train"}, {"step", 2}, {"tokens", 50}, {"tokens_per_s", 25.0}}, 3.6);
    EXPECT_DOUBLE_EQ(ordered_json::parse(j.cost_json)["measured_seconds"].get<double>(), 4.0);

    JobRecord k = make_job("ftjob-2", "proj_a", "lora");
    update_job_cost(k, {{"type", "train"}, {"step", 1}, {"tokens", 200}, {"tokens_per_s", 100.0}, {"eta_s", 10.0}},
                    std::nullopt);
    auto n = ordered_json::parse(k.cost_json);
    EXPECT_TRUE(n["so_far_usd"].is_null());
    EXPECT_TRUE(n["projected_usd"].is_null());
    EXPECT_TRUE(n["price_per_hour_usd"].is_null());
    EXPECT_DOUBLE_EQ(n["measured_seconds"].get<double>(), 2.0);
}

TEST(JobCost, LocalPriceOnlyFromAPositiveNumberInTheProfile) {
    TempDir dir;
    EXPECT_FALSE(local_price_per_hour(dir.path()));
    fs::create_directories(dir.file("hardware"));
    test::write_file(dir.file("hardware/local.json"), R"({"name":"local"})");
    EXPECT_FALSE(local_price_per_hour(dir.path()));
    test::write_file(dir.file("hardware/local.json"), R"({"name":"local","price_per_hour_usd":1.25})");
    EXPECT_EQ(local_price_per_hour(dir.path()).value_or(0), 1.25);
}

TEST(JobStore, TheEstimateColumnIsWrittenOnlyBySetJobEstimate) {
    TempDir dir;
    SqliteStore store(dir.file("llmtune.db"));
    store.create_project({"proj_a", "a", 1});
    JobRecord j = make_job("ftjob-1", "proj_a", "lora");
    j.estimate_json = R"({"status":"pending","hardware":"local"})";
    store.insert_job(j);
    EXPECT_TRUE(store.set_job_estimate("ftjob-1", R"({"status":"estimated"})"));
    EXPECT_FALSE(store.set_job_estimate("ftjob-nope", "{}"));
    j.status = kJobRunning;  // a stale record, as the scheduler holds one
    j.cost_json = R"({"so_far_usd":null})";
    store.update_job(j);
    auto got = store.get_job_any("ftjob-1");
    EXPECT_EQ(got->estimate_json, R"({"status":"estimated"})");
    EXPECT_EQ(got->cost_json, R"({"so_far_usd":null})");
}

TEST(CheckpointModels, ListedAndFoundInTheirProjectOnlyWhileOnDisk) {
    TempDir dir;
    SqliteStore store(dir.file("llmtune.db"));
    store.create_project({"proj_a", "a", 1});
    store.create_project({"proj_b", "b", 1});
    store.insert_job(make_job("ftjob-lora", "proj_a", "lora"));
    store.insert_job(make_job("ftjob-full", "proj_a", "full"));
    auto add = [&](const std::string& id, const std::string& job, int64_t step, bool on_disk) {
        JobCheckpointRecord c;
        c.id = id;
        c.job_id = job;
        c.step = step;
        c.created_at = 5;
        c.fine_tuned_model_checkpoint = "ft:tiny::" + job.substr(6) + ":ckpt-step-" + std::to_string(step);
        c.path = dir.file("jobs/" + job + "/output/checkpoints/step-" + std::to_string(step));
        if (on_disk) fs::create_directories(c.path);
        store.add_job_checkpoint(c);
    };
    add("ftckpt-1", "ftjob-lora", 2, true);
    add("ftckpt-2", "ftjob-lora", 4, false);  // pruned: not on disk
    add("ftckpt-3", "ftjob-full", 2, true);
    add("ftckpt-4", "ftjob-lora", 2, true);  // step 2 again after a resume: the newest wins

    auto listed = list_checkpoint_models(store, "proj_a");
    std::vector<std::string> names;
    for (const auto& m : listed) names.push_back(m.checkpoint.id);
    EXPECT_EQ(names, (std::vector<std::string>{"ftckpt-4", "ftckpt-3"}));
    EXPECT_TRUE(list_checkpoint_models(store, "proj_b").empty());

    EXPECT_EQ(find_checkpoint_model(store, "proj_a", "ft:tiny::lora:ckpt-step-2")->checkpoint.id,
              "ftckpt-4");
    EXPECT_FALSE(find_checkpoint_model(store, "proj_b", "ft:tiny::lora:ckpt-step-2"));
    EXPECT_FALSE(find_checkpoint_model(store, "proj_a", "ft:tiny::lora:ckpt-step-4"));
    EXPECT_FALSE(find_checkpoint_model(store, "proj_a", "tiny"));

    auto j = checkpoint_model_json(*find_checkpoint_model(store, "proj_a", "ft:tiny::lora:ckpt-step-2"));
    EXPECT_EQ(j["id"], "ft:tiny::lora:ckpt-step-2");
    EXPECT_EQ(j["owned_by"], "proj_a");
    EXPECT_EQ(j["llmtune"]["step"], 2);

    // LoRA: the base model plus the checkpoint's adapter.
    auto lora = checkpoint_files(*find_checkpoint_model(store, "proj_a", "ft:tiny::lora:ckpt-step-2"),
                                 dir.file("models/tiny"), dir.file("jobs/ftjob-lora"));
    EXPECT_EQ(lora.model_dir, dir.file("models/tiny"));
    EXPECT_EQ(lora.adapter_dir, dir.file("jobs/ftjob-lora/output/checkpoints/step-2/adapter"));

    // Full: a view of the base model's config and tokenizer with the checkpoint's weights.
    fs::create_directories(dir.file("models/tiny"));
    test::write_file(dir.file("models/tiny/config.json"), "{}");
    test::write_file(dir.file("models/tiny/tokenizer.json"), "{}");
    test::write_file(dir.file("models/tiny/model.safetensors"), "base weights");
    test::write_file(dir.file("jobs/ftjob-full/output/checkpoints/step-2/model.safetensors"), "trained");
    auto full = checkpoint_files(*find_checkpoint_model(store, "proj_a", "ft:tiny::full:ckpt-step-2"),
                                 dir.file("models/tiny"), dir.file("jobs/ftjob-full"));
    EXPECT_TRUE(full.adapter_dir.empty());
    EXPECT_EQ(test::read_file(full.model_dir + "/model.safetensors"), "trained");
    EXPECT_EQ(test::read_file(full.model_dir + "/config.json"), "{}");
    EXPECT_TRUE(fs::exists(full.model_dir + "/tokenizer.json"));
    // Reused as is the second time.
    auto again = checkpoint_files(*find_checkpoint_model(store, "proj_a", "ft:tiny::full:ckpt-step-2"),
                                  dir.file("models/tiny"), dir.file("jobs/ftjob-full"));
    EXPECT_EQ(again.model_dir, full.model_dir);
}

namespace {

// A llama-shaped base model: a hand-written config.json and the npm llama2 tokenizer.
void make_base_model(const std::string& dir) {
    fs::create_directories(dir);
    test::write_file(dir + "/config.json", R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
  "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
  "num_key_value_heads": 4, "vocab_size": 32000, "max_position_embeddings": 256,
  "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": false,
  "torch_dtype": "float32", "bos_token_id": 1, "eos_token_id": 2})");
    const std::string tok = test::npm_tokenizer_dir("llama2");
    fs::copy_file(tok + "/tokenizer.json", dir + "/tokenizer.json");
    // The Llama 2 template, as `llmtune model init` adds it.
    json config = read_json_file(tok + "/tokenizer_config.json");
    config["chat_template"] =
        tokenizer::default_chat_template(read_json_file(tok + "/tokenizer.json"), "<s>");
    test::write_file(dir + "/tokenizer_config.json", config.dump());
}

}  // namespace

TEST(JobEstimator, EstimatesFromTheFilesTokensOnCatalogHardwareAndNamesBadParams) {
    TempDir dir;
    SqliteStore store(dir.file("llmtune.db"));
    store.create_project({"proj_a", "a", 1});
    LocalBlobStore blobs(dir.path());
    make_base_model(dir.file("models/tiny"));
    std::string jsonl;
    for (int i = 0; i < 12; ++i)
        jsonl += R"({"prompt":"What is the colour of door )" + std::to_string(i) +
                 R"(?","completion":" It is red."})" + "\n";
    FileRecord f;
    f.id = "file-train";
    f.project_id = "proj_a";
    f.filename = "t.jsonl";
    f.purpose = "fine-tune";
    f.blob_sha256 = blobs.put(jsonl).sha256;
    f.canonical_sha256 = f.blob_sha256;
    f.canonical_records = 12;
    f.status = kFileProcessed;
    store.insert_file(f);
    JobEstimator est(store, blobs, dir.file("models"), dir.path());

    JobRecord job = make_job("ftjob-1", "proj_a", "lora");
    job.seed = 3;
    const std::string hw = "lambda/gpu_1x_a10";
    ordered_json e = est.estimate(job, hw);
    EXPECT_EQ(e["hardware"], hw);
    // "auto" resolved by the scheduler's rules for 12 examples: 9 epochs of batch 1.
    EXPECT_EQ(e["hyperparameters"]["n_epochs"], 9);
    EXPECT_EQ(e["hyperparameters"]["batch_size"], 1);
    EXPECT_EQ(e["steps"], 12 * 9);
    EXPECT_EQ(e["data"]["train_examples"], 12);
    EXPECT_GT(e["tokens"]["train"].get<int64_t>(), 12 * 9 * 5);
    EXPECT_GT(e["memory"]["peak_bytes"].get<double>(), 0);
    ASSERT_TRUE(e["cost"].is_object()) << e.dump();
    EXPECT_NEAR(e["cost"]["usd"].get<double>(),
                e["cost"]["price_per_hour_usd"].get<double>() * e["time"]["total_s"].get<double>() / 3600,
                1e-9);

    // A stored job gets the same estimate in its column.
    job.estimate_json = ordered_json{{"status", "pending"}, {"hardware", hw}}.dump();
    store.insert_job(job);
    est.estimate_and_store(job);
    auto stored = ordered_json::parse(store.get_job_any("ftjob-1")->estimate_json);
    EXPECT_EQ(stored["status"], "estimated");
    EXPECT_EQ(stored["steps"], e["steps"]);
    // Without a measured local profile the stored estimate says why, and the job is unharmed.
    job.estimate_json = R"({"status":"pending","hardware":"local"})";
    est.estimate_and_store(job);
    stored = ordered_json::parse(store.get_job_any("ftjob-1")->estimate_json);
    EXPECT_EQ(stored["status"], "unavailable");
    EXPECT_NE(stored["error"].get<std::string>().find("bench device"), std::string::npos);

    auto param_of = [&](const JobRecord& j, const std::string& h) -> std::string {
        try {
            est.estimate(j, h);
        } catch (const ServiceError& err) {
            return err.param() + "/" + err.code();
        }
        return "no error";
    };
    EXPECT_EQ(param_of(job, "no-such/instance"), "llmtune.hardware/hardware_not_found");
    EXPECT_EQ(param_of(job, "local"), "llmtune.hardware/hardware_profile_missing");
    FileRecord pending = f;
    pending.id = "file-pending";
    pending.status = kFileUploaded;
    pending.canonical_sha256.clear();
    store.insert_file(pending);
    JobRecord waiting = job;
    waiting.training_file = "file-pending";
    EXPECT_EQ(param_of(waiting, hw), "training_file/file_not_processed");

    ordered_json body = {{"llmtune", {{"hardware", hw}, {"method", "lora"}}}};
    EXPECT_EQ(JobEstimator::take_hardware(body), hw);
    EXPECT_FALSE(body["llmtune"].contains("hardware"));
    ordered_json none = {{"model", "tiny"}};
    EXPECT_EQ(JobEstimator::take_hardware(none), "local");
    ordered_json bad = {{"llmtune", {{"hardware", 5}}}};
    EXPECT_THROW(JobEstimator::take_hardware(bad), ServiceError);
}
