// The HTTP client's retries and the S3 client's error mapping, against canned answers from an
// in-process cpp-httplib server on loopback: throttling and 5xx retried with backoff, client
// errors not; AccessDenied naming bucket, action and principal; the wrong region with a hint
// naming the right one; a download whose bytes do not match the ETag.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <functional>
#include <thread>

#include "cloud/s3_client.h"
#include "unit/cloud/s3_test_util.h"

using namespace llmtune;
using namespace llmtune::cloud;

using llmtune::test::expect_s3_error;

namespace {

// Serves every request with `handler`, counting them.
class CannedServer {
  public:
    using Handler = std::function<void(const httplib::Request&, httplib::Response&, int n)>;
    explicit CannedServer(Handler h) : handler_(std::move(h)) {
        auto any = [this](const httplib::Request& req, httplib::Response& res) {
            handler_(req, res, ++count);
        };
        server_.Get(".*", any);
        server_.Put(".*", any);
        server_.Post(".*", any);
        server_.Delete(".*", any);
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
    }
    ~CannedServer() {
        server_.stop();
        thread_.join();
    }
    S3Config config() const {
        S3Config c;
        c.endpoint = "http://127.0.0.1:" + std::to_string(port_);
        c.region = "us-east-1";
        c.path_style = true;
        c.credentials = {"AKIDTEST", "secret", "", "the test's environment"};
        c.http.retry.max_attempts = 4;
        c.http.retry.base_delay_s = 0.01;
        c.http.retry.max_delay_s = 0.05;
        return c;
    }
    std::atomic<int> count{0};

  private:
    Handler handler_;
    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
};

std::string error_xml(const std::string& code, const std::string& message,
                      const std::string& extra = "") {
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + code + "</Code><Message>" +
           message + "</Message>" + extra + "<RequestId>REQ123</RequestId></Error>";
}

}  // namespace

TEST(S3Errors, ThrottlingAnd5xxAreRetriedUntilSuccess) {
    CannedServer server([](const httplib::Request&, httplib::Response& res, int n) {
        if (n == 1) {
            res.status = 503;
            res.set_content(error_xml("SlowDown", "Please reduce your request rate."),
                            "application/xml");
        } else if (n == 2) {
            res.status = 500;
            res.set_content(error_xml("InternalError", "We encountered an internal error."),
                            "application/xml");
        } else {
            res.set_header("ETag", "\"5d41402abc4b2a76b9719d911017c592\"");
            res.set_content("hello", "application/octet-stream");
        }
    });
    S3Client s3(server.config());
    EXPECT_EQ(s3.get_string("b", "k"), "hello");
    EXPECT_EQ(server.count, 3);
}

TEST(S3Errors, JsonThrottlingCodesAreRetried) {
    // The SageMaker JSON API's throttling answer is a 400 with "__type".
    CannedServer server([](const httplib::Request&, httplib::Response& res, int n) {
        if (n == 1) {
            res.status = 400;
            res.set_content(
                R"({"__type":"com.amazonaws.sagemaker#ThrottlingException","message":"Rate exceeded"})",
                "application/x-amz-json-1.1");
        } else {
            res.set_content("{}", "application/x-amz-json-1.1");
        }
    });
    HttpClientOptions options = server.config().http;
    HttpClient http(options);
    HttpRequest r;
    r.method = "POST";
    std::string body = "{}";
    r.body = &body;
    r.url = server.config().endpoint + "/";
    HttpResponse resp = http.send(r);
    EXPECT_EQ(resp.status, 200);
    EXPECT_EQ(resp.attempts, 2);
    EXPECT_EQ(aws_error_code(R"({"__type":"com.amazonaws.sagemaker#ThrottlingException"})"),
              "ThrottlingException");
}

TEST(S3Errors, PersistentServerErrorsStopAfterTheLastAttempt) {
    CannedServer server([](const httplib::Request&, httplib::Response& res, int) {
        res.status = 500;
        res.set_content(error_xml("InternalError", "We encountered an internal error."),
                        "application/xml");
    });
    S3Client s3(server.config());
    auto e = expect_s3_error([&] { s3.put_string("b", "k", "v"); });
    EXPECT_EQ(server.count, 4);
    EXPECT_EQ(e.kind(), ErrorKind::io);
    EXPECT_EQ(e.code(), "InternalError");
    EXPECT_NE(e.message().find("REQ123"), std::string::npos) << e.message();
}

TEST(S3Errors, ClientErrorsAreNotRetried) {
    CannedServer server([](const httplib::Request&, httplib::Response& res, int) {
        res.status = 400;
        res.set_content(error_xml("InvalidArgument", "Bad argument"), "application/xml");
    });
    S3Client s3(server.config());
    auto e = expect_s3_error([&] { s3.get_string("b", "k"); });
    EXPECT_EQ(server.count, 1);
    EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
}

TEST(S3Errors, AccessDeniedNamesTheBucketActionAndPrincipal) {
    CannedServer server([](const httplib::Request&, httplib::Response& res, int) {
        res.status = 403;
        res.set_content(
            error_xml("AccessDenied",
                      "User: arn:aws:iam::123456789012:user/alice is not authorized to "
                      "perform: s3:GetObject on resource: \"arn:aws:s3:::data-bkt/in/k\" "
                      "because no identity-based policy allows the s3:GetObject action"),
            "application/xml");
    });
    S3Client s3(server.config());
    auto e = expect_s3_error([&] { s3.get_string("data-bkt", "in/k"); });
    EXPECT_EQ(e.kind(), ErrorKind::unauthorized);
    EXPECT_EQ(e.code(), "AccessDenied");
    EXPECT_NE(e.message().find("bucket 'data-bkt'"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("GetObject"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("for arn:aws:iam::123456789012:user/alice"), std::string::npos)
        << e.message();
    EXPECT_NE(e.hint().find("s3:GetObject on arn:aws:s3:::data-bkt/*"), std::string::npos)
        << e.hint();

    // Without a principal in the message, the hint names where the credentials came from.
    CannedServer bare([](const httplib::Request&, httplib::Response& res, int) {
        res.status = 403;
        res.set_content(error_xml("AccessDenied", "Access Denied"), "application/xml");
    });
    S3Client s3b(bare.config());
    e = expect_s3_error([&] { s3b.list("data-bkt", "x/"); });
    EXPECT_NE(e.message().find("ListObjectsV2"), std::string::npos) << e.message();
    EXPECT_NE(e.hint().find("s3:ListBucket on arn:aws:s3:::data-bkt,"), std::string::npos)
        << e.hint();
    EXPECT_NE(e.hint().find("the test's environment"), std::string::npos) << e.hint();
}

TEST(S3Errors, WrongRegionHintsTheRightOne) {
    CannedServer server([](const httplib::Request&, httplib::Response& res, int) {
        res.status = 400;
        res.set_content(
            error_xml("AuthorizationHeaderMalformed",
                      "The authorization header is malformed; the region 'us-east-1' is "
                      "wrong; expecting 'eu-west-1'",
                      "<Region>eu-west-1</Region>"),
            "application/xml");
    });
    S3Client s3(server.config());
    auto e = expect_s3_error([&] { s3.put_string("b", "k", "v"); });
    EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
    EXPECT_NE(e.message().find("it is in 'eu-west-1'"), std::string::npos) << e.message();
    EXPECT_NE(e.hint().find("--s3-region eu-west-1"), std::string::npos) << e.hint();

    // HEAD answers have no body: the region comes from x-amz-bucket-region.
    CannedServer redirect([](const httplib::Request&, httplib::Response& res, int) {
        res.status = 301;
        res.set_header("x-amz-bucket-region", "ap-southeast-2");
    });
    S3Client s3r(redirect.config());
    e = expect_s3_error([&] { s3r.head("b", "k"); });
    EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
    EXPECT_NE(e.hint().find("--s3-region ap-southeast-2"), std::string::npos) << e.hint();
}

TEST(S3Errors, DownloadNotMatchingItsEtagIsAnError) {
    CannedServer server([](const httplib::Request&, httplib::Response& res, int) {
        res.set_header("ETag", "\"5d41402abc4b2a76b9719d911017c592\"");  // MD5("hello")
        res.set_content("hellO", "application/octet-stream");
    });
    S3Client s3(server.config());
    try {
        s3.get_string("b", "k");
        FAIL() << "a corrupted download was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::io);
        EXPECT_NE(e.message().find("MD5"), std::string::npos) << e.message();
    }
}

TEST(S3Errors, UploadsCarryContentMd5AndTheSignedBodyHash) {
    std::string md5, sha, auth;
    CannedServer server([&](const httplib::Request& req, httplib::Response& res, int) {
        md5 = req.get_header_value("Content-MD5");
        sha = req.get_header_value("x-amz-content-sha256");
        auth = req.get_header_value("Authorization");
        res.set_header("ETag", "\"x\"");
    });
    S3Client s3(server.config());
    s3.put_string("b", "k", "hello");
    EXPECT_EQ(md5, "XUFAKrxLKna5cZ2REBfFkg==");
    EXPECT_EQ(sha, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    EXPECT_NE(auth.find("content-md5;"), std::string::npos) << auth;
}

TEST(S3Multipart, PartSizeKeepsObjectsWithinTenThousandParts) {
    const uint64_t MiB = 1ull << 20, GiB = 1ull << 30;
    // 6 GiB (over S3's 5 GB single-PUT limit) in 64 MiB parts: 96 parts.
    EXPECT_EQ(multipart_part_size(6 * GiB, 64 * MiB), 64 * MiB);
    // 1 TiB would need 16,384 parts of 64 MiB: the part grows to whole MiB.
    for (uint64_t size : {1024 * GiB, 1024 * GiB + 1, 700 * GiB, 5000 * GiB}) {
        uint64_t part = multipart_part_size(size, 64 * MiB);
        EXPECT_LE((size + part - 1) / part, 10000u) << size;
        EXPECT_EQ(part % MiB, 0u);
        EXPECT_GE(part, 64 * MiB);
    }
    EXPECT_EQ(multipart_part_size(10000 * 64 * MiB, 64 * MiB), 64 * MiB);  // exactly 10,000
}
