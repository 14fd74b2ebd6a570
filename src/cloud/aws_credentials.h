// AWS credentials and region from the standard chain, as the AWS CLI and SDKs resolve them:
//
//   1. environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), unless a
//      profile is passed explicitly (the argument, i.e. --aws-profile), as the AWS CLI's
//      --profile does; AWS_PROFILE does not hide them, it picks the files' section;
//   2. the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials),
//      section [<profile>];
//   3. the shared config file (AWS_CONFIG_FILE, default ~/.aws/config), section
//      [profile <profile>] ([default] for the default profile).
//
// The files' profile is the argument, else AWS_PROFILE, else "default". Only static keys are read:
// role assumption, SSO and the instance metadata service are not implemented, and a profile
// that names one of them (role_arn, sso_*, credential_process) is reported as such rather
// than ignored. Nothing found is an `unauthorized` Error that lists every place looked at.
#pragma once

#include <functional>
#include <string>

namespace llmtune::cloud {

struct AwsCredentials {
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token;  // "" for long-term keys
    std::string
        source;  // where they came from, for messages: "environment", "~/.aws/credentials [dev]"
};

using Getenv = std::function<const char*(const char*)>;

// The chain above with the process environment.
AwsCredentials resolve_aws_credentials(const std::string& profile = "");
// The same with an injected environment (tests). HOME is read through `getenv` too.
AwsCredentials resolve_aws_credentials(const std::string& profile, const Getenv& getenv);

// The region: AWS_REGION, AWS_DEFAULT_REGION, then `region` of the profile in the config
// file; "" when none is set (the caller decides whether that is an error).
std::string resolve_aws_region(const std::string& profile = "");
std::string resolve_aws_region(const std::string& profile, const Getenv& getenv);

}  // namespace llmtune::cloud
