// The AWS credentials chain: environment over the shared files, profile selection in both
// files, and a clear error naming every place looked at when nothing is found.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "cloud/aws_credentials.h"
#include "common/error.h"
#include "support/test_support.h"

using namespace llmtune;
using namespace llmtune::cloud;

namespace {

struct Env {
    std::map<std::string, std::string> vars;
    Getenv fn() const {
        return [this](const char* n) -> const char* {
            auto it = vars.find(n);
            return it == vars.end() ? nullptr : it->second.c_str();
        };
    }
};

class AwsCredentialsTest : public ::testing::Test {
  protected:
    void SetUp() override {
        env.vars["HOME"] = dir.path();  // no real ~/.aws is ever read
        llmtune::test::write_file(dir.file("credentials"),
                                  "# comment\n"
                                  "[default]\n"
                                  "aws_access_key_id = AKIDDEFAULT\n"
                                  "aws_secret_access_key = secret-default\n"
                                  "\n"
                                  "[dev]\n"
                                  "aws_access_key_id=AKIDDEV\n"
                                  "aws_secret_access_key=secret-dev\n"
                                  "aws_session_token = token-dev\n"
                                  "s3 =\n"
                                  "    max_concurrent_requests = 4\n"
                                  "[half]\n"
                                  "aws_access_key_id = AKIDHALF\n");
        llmtune::test::write_file(dir.file("config"),
                                  "[default]\n"
                                  "region = eu-west-1\n"
                                  "[profile cfgonly]\n"
                                  "aws_access_key_id = AKIDCFG\n"
                                  "aws_secret_access_key = secret-cfg\n"
                                  "region = ap-south-1\n"
                                  "[profile assume]\n"
                                  "role_arn = arn:aws:iam::1:role/x\n"
                                  "source_profile = default\n");
        env.vars["AWS_SHARED_CREDENTIALS_FILE"] = dir.file("credentials");
        env.vars["AWS_CONFIG_FILE"] = dir.file("config");
    }
    llmtune::test::TempDir dir;
    Env env;
};

}  // namespace

TEST_F(AwsCredentialsTest, EnvironmentWinsOverTheFiles) {
    env.vars["AWS_ACCESS_KEY_ID"] = "AKIDENV";
    env.vars["AWS_SECRET_ACCESS_KEY"] = "secret-env";
    env.vars["AWS_SESSION_TOKEN"] = "token-env";
    auto c = resolve_aws_credentials("", env.fn());
    EXPECT_EQ(c.access_key_id, "AKIDENV");
    EXPECT_EQ(c.secret_access_key, "secret-env");
    EXPECT_EQ(c.session_token, "token-env");
    EXPECT_EQ(c.source, "environment");
    // AWS_PROFILE picks a section of the files but does not hide the environment's keys.
    env.vars["AWS_PROFILE"] = "dev";
    EXPECT_EQ(resolve_aws_credentials("", env.fn()).access_key_id, "AKIDENV");
    // An explicit profile does.
    EXPECT_EQ(resolve_aws_credentials("dev", env.fn()).access_key_id, "AKIDDEV");
}

TEST_F(AwsCredentialsTest, DefaultProfileFromTheCredentialsFile) {
    auto c = resolve_aws_credentials("", env.fn());
    EXPECT_EQ(c.access_key_id, "AKIDDEFAULT");
    EXPECT_EQ(c.secret_access_key, "secret-default");
    EXPECT_EQ(c.session_token, "");
    EXPECT_NE(c.source.find("[default]"), std::string::npos) << c.source;
}

TEST_F(AwsCredentialsTest, ProfileSelection) {
    auto dev = resolve_aws_credentials("dev", env.fn());
    EXPECT_EQ(dev.access_key_id, "AKIDDEV");
    EXPECT_EQ(dev.session_token, "token-dev");
    env.vars["AWS_PROFILE"] = "dev";
    EXPECT_EQ(resolve_aws_credentials("", env.fn()).access_key_id, "AKIDDEV");
    // A profile only in the config file ([profile NAME]).
    auto cfg = resolve_aws_credentials("cfgonly", env.fn());
    EXPECT_EQ(cfg.access_key_id, "AKIDCFG");
    EXPECT_EQ(cfg.secret_access_key, "secret-cfg");
}

TEST_F(AwsCredentialsTest, FilesUnderHomeByDefault) {
    env.vars.erase("AWS_SHARED_CREDENTIALS_FILE");
    env.vars.erase("AWS_CONFIG_FILE");
    std::filesystem::create_directories(dir.file(".aws"));
    llmtune::test::write_file(dir.file(".aws/credentials"),
                              "[home]\naws_access_key_id = AKIDHOME\naws_secret_access_key = s\n");
    EXPECT_EQ(resolve_aws_credentials("home", env.fn()).access_key_id, "AKIDHOME");
}

TEST_F(AwsCredentialsTest, MissingCredentialsNameEveryPlaceLookedAt) {
    try {
        resolve_aws_credentials("nosuch", env.fn());
        FAIL() << "found credentials for a missing profile";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::unauthorized);
        EXPECT_NE(e.message().find("'nosuch'"), std::string::npos) << e.message();
        EXPECT_NE(e.message().find(dir.file("credentials") + " (no [nosuch] section)"),
                  std::string::npos)
            << e.message();
        EXPECT_NE(e.message().find(dir.file("config") + " (no [profile nosuch] section)"),
                  std::string::npos)
            << e.message();
        EXPECT_FALSE(e.hint().empty());
    }
    // No files at all, no environment.
    env.vars["AWS_SHARED_CREDENTIALS_FILE"] = dir.file("none1");
    env.vars["AWS_CONFIG_FILE"] = dir.file("none2");
    try {
        resolve_aws_credentials("", env.fn());
        FAIL() << "found credentials where there are none";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::unauthorized);
        EXPECT_NE(e.message().find("AWS_ACCESS_KEY_ID"), std::string::npos) << e.message();
        EXPECT_NE(e.message().find("none1 (no such file)"), std::string::npos) << e.message();
    }
}

TEST_F(AwsCredentialsTest, HalfConfiguredAndUnsupportedSourcesAreErrors) {
    env.vars["AWS_ACCESS_KEY_ID"] = "AKIDENV";
    EXPECT_THROW(resolve_aws_credentials("", env.fn()), Error);  // no secret in env
    env.vars.erase("AWS_ACCESS_KEY_ID");
    try {
        resolve_aws_credentials("half", env.fn());
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(e.message().find("aws_secret_access_key"), std::string::npos) << e.message();
    }
    try {
        resolve_aws_credentials("assume", env.fn());
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(e.message().find("role_arn"), std::string::npos) << e.message();
    }
}

TEST_F(AwsCredentialsTest, Region) {
    EXPECT_EQ(resolve_aws_region("", env.fn()), "eu-west-1");
    EXPECT_EQ(resolve_aws_region("cfgonly", env.fn()), "ap-south-1");
    EXPECT_EQ(resolve_aws_region("dev", env.fn()), "");
    env.vars["AWS_DEFAULT_REGION"] = "us-east-2";
    EXPECT_EQ(resolve_aws_region("cfgonly", env.fn()), "us-east-2");
    env.vars["AWS_REGION"] = "us-west-1";
    EXPECT_EQ(resolve_aws_region("cfgonly", env.fn()), "us-west-1");
}
