// A fine-tuning job asking for N local data-parallel ranks (`llmtune.ranks`): parsed and
// checked against the batch size, auto batch sizes rounded to an equal share per rank, and
// kept through the spec's JSON (absent when 1, so single-rank specs are unchanged).
#include <gtest/gtest.h>

#include "service/job_spec.h"
#include "service/service_error.h"

namespace llmtune::service {
namespace {

std::string param_of(const char* body) {
    try {
        parse_job_spec(ordered_json::parse(body));
    } catch (const ServiceError& e) {
        return e.param() + ": " + e.message();
    }
    return "accepted";
}

TEST(JobRanks, ParsedAndChecked) {
    EXPECT_EQ(parse_job_spec(ordered_json::parse(R"({"llmtune":{"ranks":2}})")).ranks, 2);
    EXPECT_EQ(parse_job_spec(ordered_json::parse(R"({})")).ranks, 1);
    EXPECT_EQ(param_of(R"({"llmtune":{"ranks":0}})").rfind("llmtune.ranks", 0), 0u);
    EXPECT_EQ(param_of(R"({"llmtune":{"ranks":"two"}})").rfind("llmtune.ranks", 0), 0u);
    const std::string odd =
        param_of(R"({"hyperparameters":{"batch_size":3},"llmtune":{"ranks":2}})");
    EXPECT_NE(odd.find("llmtune.ranks: 'batch_size' (3) must be a multiple of 'llmtune.ranks' (2)"),
              std::string::npos)
        << odd;
    EXPECT_EQ(param_of(R"({"hyperparameters":{"batch_size":4},"llmtune":{"ranks":2}})"),
              "accepted");
}

TEST(JobRanks, AutoBatchIsAnEqualShareAndTheSpecRoundTrips) {
    JobSpec s = parse_job_spec(ordered_json::parse(R"({"llmtune":{"ranks":4}})"));
    resolve_auto(s, 40);  // alone: batch 1
    EXPECT_EQ(*s.batch_size, 4);
    resolve_auto(s, 40);
    JobSpec back = JobSpec::from_json(s.to_json());
    EXPECT_EQ(back.ranks, 4);
    JobSpec one;
    resolve_auto(one, 40);
    EXPECT_FALSE(one.to_json().contains("ranks"));
    EXPECT_EQ(JobSpec::from_json(one.to_json()).ranks, 1);
}

}  // namespace
}  // namespace llmtune::service
