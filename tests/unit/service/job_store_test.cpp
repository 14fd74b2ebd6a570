// The jobs tables of migration 2 through SqliteStore, and the job request parser's checks and
// "auto" rules (job_spec.h).
#include <gtest/gtest.h>

#include "service/job_spec.h"
#include "service/service_error.h"
#include "service/sqlite_store.h"
#include "support/test_support.h"

using namespace llmtune;
using namespace llmtune::service;
using llmtune::test::TempDir;

namespace {

JobRecord make_job(const std::string& project, const std::string& id, const std::string& meta) {
    JobRecord j;
    j.id = id;
    j.project_id = project;
    j.model = "tiny";
    j.training_file = "file-x";
    j.seed = 1;
    j.metadata_json = meta;
    j.spec_json = JobSpec().to_json().dump();
    j.created_at = 100;
    return j;
}

struct Fixture {
    TempDir dir;
    SqliteStore store{dir.file("db")};
    Fixture() {
        store.create_project({"proj_a", "a", 1});
        store.create_project({"proj_b", "b", 1});
    }
};

}  // namespace

TEST(JobStore, InsertGetUpdateAndProjectIsolation) {
    Fixture f;
    f.store.insert_job(make_job("proj_a", "ftjob-1", R"({"k":"v"})"));
    auto j = f.store.get_job("proj_a", "ftjob-1");
    ASSERT_TRUE(j);
    EXPECT_EQ(j->status, kJobValidatingFiles);
    EXPECT_FALSE(f.store.get_job("proj_b", "ftjob-1"));
    j->status = kJobSucceeded;
    j->fine_tuned_model = "ft:tiny::1";
    j->trained_tokens = 77;
    j->finished_at = 200;
    j->spec_json = R"({"changed":true})";
    f.store.update_job(*j);
    auto again = f.store.get_job_any("ftjob-1");
    EXPECT_EQ(again->status, kJobSucceeded);
    EXPECT_EQ(again->trained_tokens, 77);
    EXPECT_EQ(again->finished_at, std::optional<int64_t>(200));
    EXPECT_EQ(again->spec_json, R"({"changed":true})");
    EXPECT_TRUE(f.store.find_job_by_model("proj_a", "ft:tiny::1"));
    EXPECT_FALSE(f.store.find_job_by_model("proj_b", "ft:tiny::1"));
    EXPECT_EQ(f.store.list_fine_tuned_models("proj_a").size(), 1u);
    again->model_deleted = true;
    f.store.update_job(*again);
    EXPECT_FALSE(f.store.find_job_by_model("proj_a", "ft:tiny::1"));
}

TEST(JobStore, ListPaginatesNewestFirstAndFiltersMetadata) {
    Fixture f;
    for (int i = 0; i < 5; ++i)
        f.store.insert_job(make_job("proj_a", "ftjob-" + std::to_string(i),
                                    i % 2 ? R"({"team":"x"})" : "null"));
    f.store.insert_job(make_job("proj_b", "ftjob-b", R"({"team":"x"})"));
    JobListQuery q;
    q.limit = 2;
    auto p1 = f.store.list_jobs("proj_a", q);
    ASSERT_EQ(p1.items.size(), 2u);
    EXPECT_EQ(p1.items[0].id, "ftjob-4");
    EXPECT_TRUE(p1.has_more);
    q.after = p1.items.back().id;
    q.limit = 10;
    auto p2 = f.store.list_jobs("proj_a", q);
    ASSERT_EQ(p2.items.size(), 3u);
    EXPECT_EQ(p2.items[0].id, "ftjob-2");
    EXPECT_FALSE(p2.has_more);
    JobListQuery m;
    m.metadata = {{"team", "x"}};
    auto filtered = f.store.list_jobs("proj_a", m);
    ASSERT_EQ(filtered.items.size(), 2u);
    EXPECT_EQ(filtered.items[0].id, "ftjob-3");
    m.metadata = {{"team", "y"}};
    EXPECT_TRUE(f.store.list_jobs("proj_a", m).items.empty());
    JobListQuery foreign;
    foreign.after = "ftjob-b";
    EXPECT_THROW(f.store.list_jobs("proj_a", foreign), ServiceError);
}

TEST(JobStore, ASettledStatusAndItsEventCommitTogether) {
    Fixture f;
    f.store.insert_job(make_job("proj_a", "ftjob-1", "null"));
    auto j = *f.store.get_job_any("ftjob-1");
    j.status = kJobSucceeded;
    JobEventRecord e;
    e.id = "ftevent-done";
    e.job_id = "ftjob-1";
    e.message = "The job has successfully completed.";
    f.store.update_job_with_event(j, e);
    EXPECT_EQ(f.store.get_job_any("ftjob-1")->status, kJobSucceeded);
    ASSERT_EQ(f.store.job_events_since("ftjob-1", 0).size(), 1u);

    // The event cannot be written (its id exists): the status change is rolled back with it.
    j.status = kJobFailed;
    EXPECT_ANY_THROW(f.store.update_job_with_event(j, e));
    EXPECT_EQ(f.store.get_job_any("ftjob-1")->status, kJobSucceeded);
    EXPECT_EQ(f.store.job_events_since("ftjob-1", 0).size(), 1u);
}

TEST(JobStore, EventsAndCheckpoints) {
    Fixture f;
    f.store.insert_job(make_job("proj_a", "ftjob-1", "null"));
    int64_t last = 0;
    for (int i = 0; i < 4; ++i) {
        JobEventRecord e;
        e.id = "ftevent-" + std::to_string(i);
        e.job_id = "ftjob-1";
        e.created_at = 100 + i;
        e.message = "m" + std::to_string(i);
        int64_t seq = f.store.add_job_event(e);
        EXPECT_GT(seq, last);
        last = seq;
    }
    auto page = f.store.list_job_events("ftjob-1", "", 3);
    ASSERT_EQ(page.items.size(), 3u);
    EXPECT_EQ(page.items[0].message, "m3");
    EXPECT_TRUE(page.has_more);
    auto rest = f.store.list_job_events("ftjob-1", page.items.back().id, 3);
    ASSERT_EQ(rest.items.size(), 1u);
    EXPECT_EQ(rest.items[0].message, "m0");
    auto since = f.store.job_events_since("ftjob-1", page.items[1].seq);
    ASSERT_EQ(since.size(), 1u);
    EXPECT_EQ(since[0].message, "m3");

    for (int step : {10, 20}) {
        JobCheckpointRecord c;
        c.id = "ftckpt-" + std::to_string(step);
        c.job_id = "ftjob-1";
        c.step = step;
        c.metrics_json = R"({"train_loss":1.5})";
        f.store.add_job_checkpoint(c);
    }
    auto ck = f.store.list_job_checkpoints("ftjob-1", "", 10);
    ASSERT_EQ(ck.items.size(), 2u);
    EXPECT_EQ(ck.items[0].step, 20);
    EXPECT_EQ(ck.items[1].metrics_json, R"({"train_loss":1.5})");
}

// The param a create-job body is refused for, or "accepted".
static std::string param_of(const char* body) {
    try {
        parse_job_spec(ordered_json::parse(body));
    } catch (const ServiceError& e) {
        return e.param();
    }
    return "accepted";
}

TEST(JobSpecParse, ChecksValuesAndNamesTheParameter) {
    EXPECT_EQ(param_of(R"({"method":{"type":"supervised","supervised":{"hyperparameters":{"n_epochs":0}}}})"),
              "method.supervised.hyperparameters.n_epochs");
    EXPECT_EQ(param_of(R"({"hyperparameters":{"batch_size":"big"}})"), "hyperparameters.batch_size");
    EXPECT_EQ(param_of(R"({"method":{"type":"dpo"}})"), "method.type");
    EXPECT_EQ(param_of(R"({"llmtune":{"lora":{"r":0}}})"), "llmtune.lora.r");
    EXPECT_EQ(param_of(R"({"llmtune":{"nope":1}})"), "llmtune.nope");
    EXPECT_EQ(param_of(R"({"hyperparameters":{"n_epochs":2},"method":{"type":"supervised","supervised":{"hyperparameters":{"n_epochs":3}}}})"),
              "hyperparameters");
    EXPECT_EQ(param_of(R"({"hyperparameters":{"n_epochs":"auto","learning_rate_multiplier":0.5}})"), "accepted");
}

TEST(JobSpecParse, MemorySettingsReachTheTrainerConfig) {
    EXPECT_EQ(param_of(R"({"llmtune":{"dtype":"fp16"}})"), "llmtune.dtype");
    EXPECT_EQ(param_of(R"({"llmtune":{"method":"full","dtype":"bf16"}})"), "llmtune.dtype");
    EXPECT_EQ(param_of(R"({"llmtune":{"gradient_checkpointing":"yes"}})"),
              "llmtune.gradient_checkpointing");
    EXPECT_EQ(param_of(R"({"llmtune":{"gradient_accumulation_steps":0}})"),
              "llmtune.gradient_accumulation_steps");

    JobSpec s = parse_job_spec(ordered_json::parse(
        R"({"llmtune":{"dtype":"bf16","gradient_checkpointing":true,"gradient_accumulation_steps":4}})"));
    resolve_auto(s, 100);
    // Stored and read back (the job row keeps to_json) ...
    JobSpec back = JobSpec::from_json(s.to_json());
    EXPECT_EQ(back.dtype, "bf16");
    EXPECT_TRUE(back.gradient_checkpointing);
    EXPECT_EQ(back.gradient_accumulation_steps, 4);
    // ... and given to the trainer.
    ordered_json c = make_train_config(back, "/m", "/t.jsonl", "", "/o", 1);
    EXPECT_EQ(c["model"]["dtype"], "bf16");
    EXPECT_EQ(c["training"]["gradient_checkpointing"], true);
    EXPECT_EQ(c["training"]["gradient_accumulation_steps"], 4);
    // Auto checkpoints: a quarter of the optimizer steps, each of batch_size x 4 examples:
    // 100 examples, batch 2 (auto), 3 epochs -> 13 steps an epoch, 39 steps, every 9.
    EXPECT_EQ(c["output"]["save_steps"], 39 / 4);

    // A spec stored before these settings existed trains as it did then.
    ordered_json old = JobSpec().to_json();
    old.erase("dtype");
    old.erase("gradient_checkpointing");
    old.erase("gradient_accumulation_steps");
    JobSpec o = JobSpec::from_json(old);
    EXPECT_EQ(o.dtype, "f32");
    EXPECT_FALSE(o.gradient_checkpointing);
    EXPECT_EQ(o.gradient_accumulation_steps, 1);
}

TEST(JobSpecParse, AutoRulesDependOnDatasetSize) {
    JobSpec s;
    resolve_auto(s, 2);  // 2 * 3 < 100: ceil(100 / 2) = 50, capped at 25
    EXPECT_EQ(*s.n_epochs, 25);
    EXPECT_EQ(*s.batch_size, 1);
    EXPECT_EQ(*s.learning_rate_multiplier, 1.0);
    JobSpec m;
    resolve_auto(m, 40);  // ceil(100 / 40) = 3; 40 / 32 = 1
    EXPECT_EQ(*m.n_epochs, 3);
    EXPECT_EQ(*m.batch_size, 1);
    JobSpec l;
    resolve_auto(l, 100000);  // 25000 / 100000 = 0 -> 1; batch capped at 16
    EXPECT_EQ(*l.n_epochs, 1);
    EXPECT_EQ(*l.batch_size, 16);
    JobSpec mid;
    resolve_auto(mid, 200);
    EXPECT_EQ(*mid.n_epochs, 3);
    EXPECT_EQ(*mid.batch_size, 4);  // 200 / 32 = 6 -> 4
    JobSpec given;
    given.n_epochs = 7;
    resolve_auto(given, 2);
    EXPECT_EQ(*given.n_epochs, 7);  // an explicit value is kept
}
