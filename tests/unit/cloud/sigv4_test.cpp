// SigV4 signatures compared with the AWS SDK for JavaScript's signer (@smithy/signature-v4 with
// @aws-crypto/sha256-js), run at test time by tests/reference/sigv4_reference.mjs on the same
// table of requests, fixed time and fake credentials.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cloud/sigv4.h"
#include "common/error.h"
#include "support/test_support.h"

using namespace llmtune;
using namespace llmtune::cloud;
using nlohmann::json;

namespace {

struct Case {
    std::string name;
    std::string method;
    std::string url;
    HttpHeaders headers;
    std::string body;
    bool unsigned_payload = false;
    std::string region = "us-east-1";
    std::string service = "s3";
    bool s3 = true;
    std::string session_token;
};

Case make(std::string name, std::string method, std::string url, HttpHeaders headers,
          std::string body = "", bool unsigned_payload = false, std::string region = "us-east-1",
          std::string service = "s3", bool s3 = true, std::string session_token = "") {
    Case c;
    c.name = std::move(name);
    c.method = std::move(method);
    c.url = std::move(url);
    c.headers = std::move(headers);
    c.body = std::move(body);
    c.unsigned_payload = unsigned_payload;
    c.region = std::move(region);
    c.service = std::move(service);
    c.s3 = s3;
    c.session_token = std::move(session_token);
    return c;
}

const char* kKeyId = "AKIDEXAMPLE";
const char* kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const std::time_t kTime = 1440938160;  // 2015-08-30T12:36:00Z

std::vector<Case> cases() {
    std::vector<Case> v;
    v.push_back(make("s3_get_empty_body", "GET", "https://examplebucket.s3.amazonaws.com/test.txt",
                     {{"Range", "bytes=0-9"}}));
    v.push_back(make(
        "s3_put_body", "PUT",
        "https://examplebucket.s3.us-west-2.amazonaws.com/blobs/sha256/ab/abcdef",
        {{"Content-Type", "application/octet-stream"}, {"Content-MD5", "XUFAKrxLKna5cZ2REBfFkg=="}},
        "hello", false, "us-west-2"));
    v.push_back(make("s3_list_query", "GET",
                     "https://examplebucket.s3.amazonaws.com/?list-type=2&prefix=llm%2Fblobs%2F&"
                     "max-keys=1000&continuation-token=1%2BAbC%3D%3D%2Fx",
                     {}));
    v.push_back(make("s3_query_without_value", "POST",
                     "https://examplebucket.s3.amazonaws.com/big.bin?uploads", {}));
    v.push_back(make("s3_unicode_key", "PUT",
                     "https://examplebucket.s3.amazonaws.com/" +
                         uri_encode(u8"données/日本語 file+(1)~!*'.txt", true),
                     {{"Content-Type", "text/plain"}}, u8"é", false));
    v.push_back(make("s3_path_style_port_token", "GET",
                     "http://127.0.0.1:4568/test-bucket/a/b//c.txt?partNumber=3&uploadId=Xy%2Bz",
                     {}, "", false, "eu-central-1", "s3", true, "FQoGZXIvYXdzEXAMPLE/token+="));
    v.push_back(make("s3_unsigned_payload", "PUT", "https://examplebucket.s3.amazonaws.com/u.bin",
                     {{"Content-Length", "4"}}, "data", true));
    v.push_back(make("s3_messy_header_values", "GET", "https://examplebucket.s3.amazonaws.com/x",
                     {{"X-Amz-Meta-Note", "  several   spaces\tand tab  "},
                      {"User-Agent", "llmtune/0.1"},
                      {"My-Header", "Value"}}));
    v.push_back(make(
        "sagemaker_create_training_job", "POST", "https://api.sagemaker.us-west-2.amazonaws.com/",
        {{"Content-Type", "application/x-amz-json-1.1"},
         {"X-Amz-Target", "SageMaker.CreateTrainingJob"}},
        R"({"TrainingJobName":"llmtune-ftjob-1","RoleArn":"arn:aws:iam::123456789012:role/r","HyperParameters":{"epochs":"3"}})",
        false, "us-west-2", "sagemaker", false, "session/token"));
    v.push_back(make("non_s3_path_double_encoded", "GET",
                     "https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/my%20fn/./x/../"
                     "invocations?Qualifier=%24LATEST",
                     {}, "", false, "us-east-1", "lambda", false));
    return v;
}

std::string signed_payload(const Case& c) {
    return c.unsigned_payload ? std::string(kUnsignedPayload) : sha256_hex(c.body);
}

}  // namespace

TEST(SigV4, MatchesTheAwsSdkForJavaScriptSigner) {
    auto table = cases();
    json input = json::array();
    for (const auto& c : table) {
        json h = json::object();
        for (const auto& [n, val] : c.headers)
            h[n] = val;
        input.push_back({{"method", c.method},
                         {"url", c.url},
                         {"headers", h},
                         {"body", c.body},
                         {"unsigned_payload", c.unsigned_payload},
                         {"region", c.region},
                         {"service", c.service},
                         {"s3", c.s3},
                         {"access_key_id", kKeyId},
                         {"secret_access_key", kSecret},
                         {"session_token", c.session_token},
                         {"time", kTime}});
    }
    llmtune::test::TempDir dir;
    llmtune::test::write_file(dir.file("cases.json"), input.dump());
    auto run = llmtune::test::run_command(std::string("node ") + LLMTUNE_SOURCE_DIR +
                                          "/tests/reference/sigv4_reference.mjs < " +
                                          dir.file("cases.json"));
    ASSERT_EQ(run.exit_code, 0) << run.err << "\nhint: run `npm ci` in the source tree";
    json expected = json::parse(run.out);
    ASSERT_EQ(expected.size(), table.size());

    for (size_t i = 0; i < table.size(); ++i) {
        const Case& c = table[i];
        SCOPED_TRACE(c.name);
        SigV4Params p;
        p.region = c.region;
        p.service = c.service;
        p.credentials = {kKeyId, kSecret, c.session_token, "test"};
        p.time = kTime;
        p.s3_uri_encoding = c.s3;
        HttpHeaders headers = c.headers;
        if (c.unsigned_payload) headers.emplace_back("x-amz-content-sha256", kUnsignedPayload);
        SigV4Result r = sigv4_sign({c.method, c.url, headers, signed_payload(c)}, p);
        json got = json::object();
        for (const auto& [n, val] : r.headers)
            got[n] = val;
        EXPECT_EQ(got, expected[i]) << "canonical request:\n" << r.canonical_request;
    }
}

TEST(SigV4, AwsDocumentedDerivedValues) {
    // Independent of the SDK: the signing date format and the empty-payload hash.
    EXPECT_EQ(amz_date(kTime), "20150830T123600Z");
    EXPECT_EQ(sha256_hex(""), kEmptySha256);
    EXPECT_EQ(uri_encode("a b/c~d*e", true), "a%20b/c~d%2Ae");
    EXPECT_EQ(uri_encode("a/b", false), "a%2Fb");
    EXPECT_EQ(uri_decode("a%2Fb+c"), "a/b+c");
    EXPECT_THROW(uri_decode("bad%2"), Error);
}

TEST(SigV4, RejectsWhatCannotBeSigned) {
    SigV4Params p;
    p.region = "us-east-1";
    p.service = "s3";
    p.credentials = {kKeyId, kSecret, "", "test"};
    p.time = kTime;
    EXPECT_THROW(sigv4_sign({"GET", "not a url", {}, kEmptySha256}, p), Error);
    p.credentials.secret_access_key.clear();
    try {
        sigv4_sign({"GET", "https://b.s3.amazonaws.com/k", {}, kEmptySha256}, p);
        FAIL() << "signed without a secret key";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::unauthorized);
    }
}
