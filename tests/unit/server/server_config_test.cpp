#include <gtest/gtest.h>

#include <map>

#include "common/error.h"
#include "server/router.h"
#include "server/server_config.h"
#include "support/test_support.h"

using namespace llmtune;
using namespace llmtune::server;
using llmtune::test::TempDir;
using llmtune::test::write_file;

namespace {
Getenv env_of(const std::map<std::string, std::string>& env) {
    return [env](const char* name) -> const char* {
        auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
    };
}
}  // namespace

TEST(ServerConfig, DefaultsBindLoopbackPort8000) {
    ServerConfig c = resolve_server_config({}, env_of({}));
    EXPECT_EQ(c.host, "127.0.0.1");
    EXPECT_EQ(c.port, 8000);
    EXPECT_EQ(c.max_upload_bytes, 10ull << 30);
    EXPECT_EQ(c.config_file, "");
}

TEST(ServerConfig, FlagsBeatEnvironmentBeatsYamlBeatsDefaults) {
    TempDir dir;
    std::string yaml = dir.file("llmtune.yaml");
    write_file(yaml, "port: 7000\nhost: 0.0.0.0\nmodels_dir: /yaml/models\nmax_upload_bytes: 5MiB\n");
    ServerConfig c = resolve_server_config(
        {{"config", yaml}, {"port", "9000"}},
        env_of({{"LLMTUNE_PORT", "8500"}, {"LLMTUNE_HOST", "::1"}, {"LLMTUNE_DATA_DIR", "/env/data"}}));
    EXPECT_EQ(c.port, 9000);               // flag over environment and YAML
    EXPECT_EQ(c.host, "::1");              // environment over YAML
    EXPECT_EQ(c.data_dir, "/env/data");    // environment over the default
    EXPECT_EQ(c.models_dir, "/yaml/models");  // YAML over the default
    EXPECT_EQ(c.max_upload_bytes, 5ull << 20);
    EXPECT_EQ(c.config_file, yaml);
    // LLMTUNE_CONFIG names the file when --config does not.
    ServerConfig e = resolve_server_config({}, env_of({{"LLMTUNE_CONFIG", yaml}}));
    EXPECT_EQ(e.port, 7000);
}

TEST(ServerConfig, BadValuesNameTheirSource) {
    TempDir dir;
    auto message = [](const std::function<void()>& f) {
        try {
            f();
        } catch (const Error& e) {
            return e.message();
        }
        return std::string("no error");
    };
    EXPECT_NE(message([] { resolve_server_config({{"port", "80x"}}, env_of({})); }).find("--port"),
              std::string::npos);
    EXPECT_NE(message([] { resolve_server_config({}, env_of({{"LLMTUNE_PORT", "70000"}})); })
                  .find("LLMTUNE_PORT"),
              std::string::npos);
    std::string yaml = dir.file("bad.yaml");
    write_file(yaml, "prot: 1\n");
    EXPECT_NE(message([&] { resolve_server_config({{"config", yaml}}, env_of({})); }).find("prot"),
              std::string::npos);
    write_file(yaml, "port: [1, 2]\n");
    EXPECT_NE(message([&] { resolve_server_config({{"config", yaml}}, env_of({})); }).find("port"),
              std::string::npos);
    write_file(yaml, "port: 1\n  host: : x\n");
    EXPECT_NE(message([&] { resolve_server_config({{"config", yaml}}, env_of({})); }).find("line"),
              std::string::npos);
    EXPECT_NE(message([&] { resolve_server_config({{"config", dir.file("none.yaml")}}, env_of({})); })
                  .find("none.yaml"),
              std::string::npos);
    EXPECT_NE(message([] { resolve_server_config({{"log_level", "loud"}}, env_of({})); })
                  .find("loud"),
              std::string::npos);
}

TEST(ServerConfig, ByteSizesTakeDecimalAndBinaryUnits) {
    EXPECT_EQ(parse_byte_size("1048576", "x"), 1048576u);
    EXPECT_EQ(parse_byte_size("10GB", "x"), 10000000000u);
    EXPECT_EQ(parse_byte_size("512MiB", "x"), 512ull << 20);
    EXPECT_EQ(parse_byte_size("2 KiB", "x"), 2048u);
    EXPECT_THROW(parse_byte_size("ten", "x"), Error);
    EXPECT_THROW(parse_byte_size("10XB", "x"), Error);
    EXPECT_THROW(parse_byte_size("99999999999999999999TiB", "x"), Error);
}

TEST(Router, RouteTemplatesBecomeAnchoredRegexes) {
    EXPECT_EQ(route_regex("/v1/files/{id}/content"), "/v1/files/([^/]+)/content");
    EXPECT_EQ(route_regex("/healthz"), "/healthz");
}

TEST(ServerConfig, BlobStoreSettings) {
    ServerConfig d = resolve_server_config({}, env_of({}));
    EXPECT_EQ(d.store, "");
    EXPECT_FALSE(d.s3_path_style);
    TempDir dir;
    std::string yaml = dir.file("llmtune.yaml");
    write_file(yaml, "store: s3://yaml-bucket/p\ns3_region: eu-west-1\ns3_path_style: true\n");
    ServerConfig c = resolve_server_config(
        {{"config", yaml}, {"s3_endpoint", "http://127.0.0.1:9000"}},
        env_of({{"LLMTUNE_STORE", "s3://env-bucket/prefix"}, {"LLMTUNE_AWS_PROFILE", "dev"}}));
    EXPECT_EQ(c.store, "s3://env-bucket/prefix");  // environment over YAML
    EXPECT_EQ(c.s3_endpoint, "http://127.0.0.1:9000");
    EXPECT_EQ(c.s3_region, "eu-west-1");
    EXPECT_TRUE(c.s3_path_style);
    EXPECT_EQ(c.aws_profile, "dev");
    EXPECT_FALSE(resolve_server_config({{"s3_path_style", "false"}}, env_of({})).s3_path_style);

    auto message = [](const std::map<std::string, std::string>& flags) {
        try {
            resolve_server_config(flags, env_of({}));
        } catch (const Error& e) {
            return e.message();
        }
        return std::string("no error");
    };
    EXPECT_NE(message({{"store", "gs://bucket"}}).find("not an S3 location"), std::string::npos);
    EXPECT_NE(message({{"store", "s3://Not_A_Bucket/x"}}).find("not a valid S3 bucket name"),
              std::string::npos);
    EXPECT_NE(message({{"s3_endpoint", "127.0.0.1:9000"}}).find("--s3-endpoint"), std::string::npos);
    EXPECT_NE(message({{"s3_path_style", "maybe"}}).find("not true or false"), std::string::npos);
}
