#include "cloud/aws_credentials.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <vector>

#include "common/error.h"

namespace llmtune::cloud {

namespace {

using Section = std::map<std::string, std::string>;

std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return "";
    size_t e = s.find_last_not_of(" \t\r\n");
    return s.substr(b, e - b + 1);
}

std::string env(const Getenv& getenv, const char* name) {
    const char* v = getenv(name);
    return v ? std::string(v) : std::string();
}

// The INI dialect of the AWS shared files: [section], key = value, '#' or ';' comments.
// Indented lines continue a nested block (s3 = ...) and are skipped: llmtune reads none.
// Returns false when the file does not exist.
bool read_ini(const std::string& path, std::map<std::string, Section>& out) {
    std::ifstream in(path);
    if (!in) return false;
    std::string line, section;
    bool have_section = false;
    while (std::getline(in, line)) {
        if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) continue;
        std::string t = trim(line);
        if (t.empty() || t[0] == '#' || t[0] == ';') continue;
        if (t.front() == '[' && t.back() == ']') {
            section = trim(t.substr(1, t.size() - 2));
            out[section];
            have_section = true;
            continue;
        }
        size_t eq = t.find('=');
        if (!have_section || eq == std::string::npos) continue;
        out[section][trim(t.substr(0, eq))] = trim(t.substr(eq + 1));
    }
    return true;
}

std::string home_path(const Getenv& getenv, const std::string& rel) {
    std::string home = env(getenv, "HOME");
    return (home.empty() ? std::string("~") : home) + "/" + rel;
}

struct SharedFiles {
    std::string credentials_path, config_path;
    bool credentials_exists = false, config_exists = false;
    std::map<std::string, Section> credentials, config;
};

SharedFiles load_shared_files(const Getenv& getenv) {
    SharedFiles f;
    f.credentials_path = env(getenv, "AWS_SHARED_CREDENTIALS_FILE");
    if (f.credentials_path.empty()) f.credentials_path = home_path(getenv, ".aws/credentials");
    f.config_path = env(getenv, "AWS_CONFIG_FILE");
    if (f.config_path.empty()) f.config_path = home_path(getenv, ".aws/config");
    f.credentials_exists = read_ini(f.credentials_path, f.credentials);
    f.config_exists = read_ini(f.config_path, f.config);
    return f;
}

const Section* config_section(const SharedFiles& f, const std::string& profile) {
    auto it = f.config.find("profile " + profile);
    if (it != f.config.end()) return &it->second;
    if (profile == "default") {
        it = f.config.find("default");
        if (it != f.config.end()) return &it->second;
    }
    return nullptr;
}

std::string get(const Section& s, const char* key) {
    auto it = s.find(key);
    return it == s.end() ? "" : it->second;
}

// Keys from a section, or throws when the section has only part of them or names a
// credential source llmtune does not implement.
bool keys_from(const Section& s, const std::string& where, AwsCredentials& out) {
    std::string id = get(s, "aws_access_key_id"), secret = get(s, "aws_secret_access_key");
    if (!id.empty() && !secret.empty()) {
        out.access_key_id = id;
        out.secret_access_key = secret;
        out.session_token = get(s, "aws_session_token");
        out.source = where;
        return true;
    }
    if (!id.empty() || !secret.empty())
        throw Error(ErrorKind::unauthorized,
                    where + " has " + (id.empty() ? "aws_secret_access_key" : "aws_access_key_id") +
                        " but not " + (id.empty() ? "aws_access_key_id" : "aws_secret_access_key"),
                    "set both keys of the profile");
    for (const char* k : {"role_arn", "sso_session", "sso_start_url", "credential_process",
                          "web_identity_token_file"})
        if (s.count(k))
            throw Error(
                ErrorKind::unauthorized,
                where + " gets its credentials through '" + k +
                    "', which llmtune does not implement (it reads static keys only)",
                "export the temporary keys as AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY "
                "and AWS_SESSION_TOKEN (e.g. `aws configure export-credentials --format env`)");
    return false;
}

}  // namespace

AwsCredentials resolve_aws_credentials(const std::string& profile) {
    return resolve_aws_credentials(profile, [](const char* n) { return std::getenv(n); });
}

AwsCredentials resolve_aws_credentials(const std::string& profile_arg, const Getenv& getenv) {
    std::vector<std::string> looked;
    // An explicit profile (the argument: --aws-profile) skips the environment keys, as the
    // AWS CLI's --profile does; AWS_PROFILE only picks the section of the shared files.
    std::string profile = profile_arg;
    if (profile.empty()) {
        std::string id = env(getenv, "AWS_ACCESS_KEY_ID");
        std::string secret = env(getenv, "AWS_SECRET_ACCESS_KEY");
        if (!id.empty() && !secret.empty())
            return AwsCredentials{id, secret, env(getenv, "AWS_SESSION_TOKEN"), "environment"};
        if (!id.empty() || !secret.empty())
            throw Error(
                ErrorKind::unauthorized,
                std::string("AWS credentials: ") +
                    (id.empty() ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID") + " is set but " +
                    (id.empty() ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY") + " is not",
                "set both environment variables, or neither to use the shared files");
        looked.push_back("AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (not set)");
        profile = env(getenv, "AWS_PROFILE");
        if (profile.empty()) profile = "default";
    }
    SharedFiles f = load_shared_files(getenv);
    AwsCredentials out;
    auto cred = f.credentials.find(profile);
    if (cred != f.credentials.end() &&
        keys_from(cred->second, f.credentials_path + " [" + profile + "]", out))
        return out;
    looked.push_back(f.credentials_path +
                     (f.credentials_exists
                          ? (cred == f.credentials.end() ? " (no [" + profile + "] section)"
                                                         : " ([" + profile + "] has no keys)")
                          : " (no such file)"));
    const Section* conf = config_section(f, profile);
    std::string conf_name = profile == "default" ? "default" : "profile " + profile;
    if (conf && keys_from(*conf, f.config_path + " [" + conf_name + "]", out)) return out;
    looked.push_back(f.config_path + (f.config_exists ? (conf ? " ([" + conf_name + "] has no keys)"
                                                              : " (no [" + conf_name + "] section)")
                                                      : " (no such file)"));
    std::string list;
    for (const auto& l : looked)
        list += (list.empty() ? "" : "; ") + l;
    throw Error(ErrorKind::unauthorized,
                "no AWS credentials found for profile '" + profile + "': looked at " + list,
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add the profile's keys to "
                "~/.aws/credentials (`aws configure --profile " +
                    profile + "`)");
}

std::string resolve_aws_region(const std::string& profile) {
    return resolve_aws_region(profile, [](const char* n) { return std::getenv(n); });
}

std::string resolve_aws_region(const std::string& profile_arg, const Getenv& getenv) {
    for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
        std::string v = env(getenv, name);
        if (!v.empty()) return v;
    }
    std::string profile = profile_arg.empty() ? env(getenv, "AWS_PROFILE") : profile_arg;
    if (profile.empty()) profile = "default";
    SharedFiles f = load_shared_files(getenv);
    const Section* conf = config_section(f, profile);
    return conf ? get(*conf, "region") : "";
}

}  // namespace llmtune::cloud
