// The rank environment: torchrun's variables parsed strictly, with every problem named.
#include <gtest/gtest.h>

#include <map>

#include "common/error.h"
#include "dist/rank_env.h"

namespace llmtune::dist {
namespace {

using Env = std::map<std::string, std::string>;

auto getter(const Env& env) {
    return [&env](const char* name) -> const char* {
        auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
    };
}

Env full() {
    return {{"RANK", "1"},
            {"WORLD_SIZE", "4"},
            {"LOCAL_RANK", "1"},
            {"LOCAL_WORLD_SIZE", "2"},
            {"MASTER_ADDR", "node0"},
            {"MASTER_PORT", "29500"}};
}

std::string error_of(const Env& env) {
    try {
        parse_rank_env(getter(env));
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
        EXPECT_FALSE(e.hint().empty());
        return e.message();
    }
    return "";
}

TEST(RankEnv, NoVariablesMeansOneProcess) {
    Env env = {{"MASTER_ADDR", "x"}, {"LOCAL_RANK", "0"}};
    EXPECT_FALSE(parse_rank_env(getter(env)).has_value());
}

TEST(RankEnv, ParsesTheTorchrunContract) {
    Env env = full();
    auto r = parse_rank_env(getter(env));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->rank, 1);
    EXPECT_EQ(r->world_size, 4);
    EXPECT_EQ(r->local_rank, 1);
    EXPECT_EQ(r->local_world_size, 2);
    EXPECT_EQ(r->master_addr, "node0");
    EXPECT_EQ(r->master_port, 29500);
    env.erase("LOCAL_WORLD_SIZE");  // optional
    EXPECT_EQ(parse_rank_env(getter(env))->local_world_size, 0);
}

TEST(RankEnv, NamesEveryMissingVariable) {
    Env env = {{"RANK", "0"}, {"WORLD_SIZE", "2"}};
    const std::string msg = error_of(env);
    EXPECT_NE(msg.find("LOCAL_RANK, MASTER_ADDR, MASTER_PORT"), std::string::npos) << msg;
    env = full();
    env["MASTER_ADDR"] = "";
    EXPECT_NE(error_of(env).find("MASTER_ADDR (it is unset or empty)"), std::string::npos);
    env = full();
    env.erase("RANK");  // WORLD_SIZE alone is half a contract
    EXPECT_NE(error_of(env).find("needs RANK"), std::string::npos);
}

TEST(RankEnv, RejectsMalformedAndInconsistentValues) {
    Env env = full();
    env["RANK"] = "4";
    EXPECT_NE(error_of(env).find("RANK=4 must be below WORLD_SIZE=4"), std::string::npos);
    env = full();
    env["MASTER_PORT"] = "70000";
    EXPECT_NE(error_of(env).find("MASTER_PORT=70000 is outside 1..65535"), std::string::npos);
    env = full();
    env["WORLD_SIZE"] = "two";
    EXPECT_NE(error_of(env).find("WORLD_SIZE='two' is not a non-negative integer"),
              std::string::npos);
    env = full();
    env["RANK"] = "-1";
    EXPECT_NE(error_of(env).find("RANK='-1'"), std::string::npos);
    env = full();
    env["LOCAL_RANK"] = "2";
    EXPECT_NE(error_of(env).find("LOCAL_RANK=2 must be below LOCAL_WORLD_SIZE=2"),
              std::string::npos);
    env = full();
    env["LOCAL_WORLD_SIZE"] = "8";
    EXPECT_NE(error_of(env).find("LOCAL_WORLD_SIZE=8 exceeds WORLD_SIZE=4"), std::string::npos);
    // Several problems are reported together.
    env = full();
    env["RANK"] = "x";
    env["MASTER_PORT"] = "0";
    const std::string msg = error_of(env);
    EXPECT_NE(msg.find("RANK='x'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("MASTER_PORT=0"), std::string::npos) << msg;
}

TEST(RankEnv, TimeoutAndThreads) {
    Env env;
    EXPECT_EQ(parse_dist_timeout(getter(env)), std::chrono::milliseconds(600000));
    env["LLMTUNE_DIST_TIMEOUT_S"] = "2.5";
    EXPECT_EQ(parse_dist_timeout(getter(env)), std::chrono::milliseconds(2500));
    for (const char* bad : {"0", "-1", "abc", "", "1e9", "nan"}) {
        env["LLMTUNE_DIST_TIMEOUT_S"] = bad;
        EXPECT_THROW(parse_dist_timeout(getter(env)), Error) << bad;
    }
    Env t;
    EXPECT_EQ(rank_threads(getter(t)), 1);
    t["OMP_NUM_THREADS"] = "3";
    EXPECT_EQ(rank_threads(getter(t)), 3);
    t["OMP_NUM_THREADS"] = "0";
    EXPECT_THROW(rank_threads(getter(t)), Error);
}

}  // namespace
}  // namespace llmtune::dist
