// The S3 client against s3rver on loopback (signatures verified by the server): put, get,
// head, list with paging, multipart above a small threshold, overwrite, delete, missing keys
// and buckets, bad credentials, and a server that goes away mid-transfer.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <iostream>
#include <random>
#include <thread>

#include "cloud/s3_client.h"
#include "support/test_support.h"
#include "unit/cloud/s3rver_fixture.h"
#include "unit/cloud/s3_test_util.h"

using namespace llmtune;
using namespace llmtune::cloud;

using llmtune::test::random_bytes;
using llmtune::test::expect_s3_error;

namespace {

const char* kBucket = "test-bucket";

class S3ClientTest : public ::testing::Test {
  protected:
    llmtune::test::TempDir dir;
    llmtune::test::S3rverProcess server{dir.file("s3"), kBucket};
};

}  // namespace

TEST_F(S3ClientTest, PutGetHeadListDelete) {
    S3Client s3(server.config());
    s3.put_string(kBucket, "dir/a.txt", "hello");
    s3.put_string(kBucket, "dir/b.txt", "");
    s3.put_string(kBucket, "other/c.txt", "ccc");
    EXPECT_EQ(s3.get_string(kBucket, "dir/a.txt"), "hello");
    EXPECT_EQ(s3.get_string(kBucket, "dir/b.txt"), "");

    auto h = s3.head(kBucket, "dir/a.txt");
    ASSERT_TRUE(h);
    EXPECT_EQ(h->size, 5u);
    EXPECT_EQ(h->etag, "5d41402abc4b2a76b9719d911017c592");  // MD5("hello")

    auto listed = s3.list(kBucket, "dir/");
    ASSERT_EQ(listed.size(), 2u);
    EXPECT_EQ(listed[0].key, "dir/a.txt");
    EXPECT_EQ(listed[0].size, 5u);
    EXPECT_EQ(listed[1].key, "dir/b.txt");

    s3.remove(kBucket, "dir/a.txt");
    EXPECT_FALSE(s3.head(kBucket, "dir/a.txt"));
    EXPECT_EQ(s3.list(kBucket, "dir/").size(), 1u);
    s3.remove(kBucket, "dir/a.txt");  // deleting a missing key is not an error
}

TEST_F(S3ClientTest, OverwriteReplacesTheObject) {
    S3Client s3(server.config());
    s3.put_string(kBucket, "k", "first version");
    s3.put_string(kBucket, "k", "second");
    EXPECT_EQ(s3.get_string(kBucket, "k"), "second");
    EXPECT_EQ(s3.head(kBucket, "k")->size, 6u);
}

TEST_F(S3ClientTest, UnicodeAndReservedCharactersInKeys) {
    S3Client s3(server.config());
    const std::string key = u8"données/日本語 file+(1)~!*'=&?.txt";
    s3.put_string(kBucket, key, "x");
    EXPECT_EQ(s3.get_string(kBucket, key), "x");
    auto listed = s3.list(kBucket, u8"données/");
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].key, key);
}

TEST_F(S3ClientTest, ListPagesWithContinuationTokens) {
    S3Client s3(server.config());
    for (int i = 0; i < 5; ++i)
        s3.put_string(kBucket, "p/" + std::to_string(i), "v");
    s3.put_string(kBucket, "q/0", "v");
    auto first = s3.list_page(kBucket, "p/", "", 2);
    ASSERT_EQ(first.objects.size(), 2u);
    ASSERT_FALSE(first.next_continuation_token.empty());
    auto second = s3.list_page(kBucket, "p/", first.next_continuation_token, 2);
    ASSERT_EQ(second.objects.size(), 2u);
    EXPECT_EQ(second.objects[0].key, "p/2");
    auto all = s3.list(kBucket, "p/");
    ASSERT_EQ(all.size(), 5u);
    for (int i = 0; i < 5; ++i)
        EXPECT_EQ(all[i].key, "p/" + std::to_string(i));
}

TEST_F(S3ClientTest, MultipartAboveTheThreshold) {
    auto config = server.config();
    config.part_size = 64 << 10;
    config.multipart_threshold = 100 << 10;
    std::vector<std::string> parts;  // URLs of UploadPart requests answered 200
    config.http.on_response = [&](const HttpRequest& r, const HttpResponse& resp) {
        if (r.url.find("partNumber=") != std::string::npos && resp.status == 200)
            parts.push_back(r.url);
    };
    S3Client s3(config);
    const std::string data = random_bytes((300 << 10) + 123, 1);  // 5 parts, the last short
    std::string path = dir.file("big.bin");
    llmtune::test::write_file(path, data);
    s3.put_file(kBucket, "big/file.bin", path);
    EXPECT_EQ(parts.size(), 5u);
    auto h = s3.head(kBucket, "big/file.bin");
    ASSERT_TRUE(h);
    EXPECT_EQ(h->size, data.size());
    auto got = s3.get_file(kBucket, "big/file.bin", dir.file("back.bin"));
    EXPECT_EQ(got.size, data.size());
    EXPECT_TRUE(llmtune::test::read_file(dir.file("back.bin")) == data);

    // The same through a non-seekable reader (parts buffered in memory).
    parts.clear();
    const std::string other = random_bytes((200 << 10) + 7, 2);
    size_t pos = 0;
    s3.put(kBucket, "big/reader.bin", other.size(), [&](char* buf, size_t n) {
        size_t k = std::min(n, other.size() - pos);
        std::memcpy(buf, other.data() + pos, k);
        pos += k;
        return k;
    });
    EXPECT_EQ(parts.size(), 4u);
    EXPECT_TRUE(s3.get_string(kBucket, "big/reader.bin") == other);
    // At the threshold: one PUT.
    parts.clear();
    s3.put_string(kBucket, "small", random_bytes(100 << 10, 3));
    EXPECT_EQ(parts.size(), 0u);
    EXPECT_EQ(s3.head(kBucket, "small")->size, 100u << 10);
}

TEST_F(S3ClientTest, MissingKeyAndBucketArePreciseErrors) {
    S3Client s3(server.config());
    EXPECT_FALSE(s3.head(kBucket, "nope"));
    auto e = expect_s3_error([&] { s3.get_string(kBucket, "nope"); });
    EXPECT_EQ(e.kind(), ErrorKind::not_found);
    EXPECT_EQ(e.code(), "NoSuchKey");
    EXPECT_NE(e.message().find("s3://test-bucket/nope"), std::string::npos) << e.message();

    e = expect_s3_error([&] { s3.put_string("no-such-bucket", "k", "v"); });
    EXPECT_EQ(e.kind(), ErrorKind::not_found);
    EXPECT_EQ(e.code(), "NoSuchBucket");
    EXPECT_NE(e.message().find("'no-such-bucket'"), std::string::npos) << e.message();
    // HEAD on a missing bucket is an error, not "no such key".
    e = expect_s3_error([&] { s3.head("no-such-bucket", "k"); });
    EXPECT_EQ(e.code(), "NoSuchBucket");
}

TEST_F(S3ClientTest, UnknownAccessKeyIsUnauthorized) {
    // s3rver checks the access key id (it does not verify SigV4 signatures: sigv4_test
    // compares them with the AWS SDK's signer instead).
    auto config = server.config();
    config.credentials.access_key_id = "AKIDUNKNOWN";
    S3Client s3(config);
    auto e = expect_s3_error([&] { s3.put_string(kBucket, "k", "v"); });
    EXPECT_EQ(e.kind(), ErrorKind::unauthorized);
    EXPECT_EQ(e.code(), "InvalidAccessKeyId");
    EXPECT_NE(e.hint().find("from test"), std::string::npos) << e.hint();
}

TEST_F(S3ClientTest, ServerGoingAwayMidDownloadIsRetriedThenAClearError) {
    S3Client s3(server.config());
    s3.put_string(kBucket, "big", random_bytes(8 << 20, 4));
    std::atomic<bool> killed{false};
    try {
        s3.get(
            kBucket, "big",
            [&](const char*, size_t) {
                if (!killed.exchange(true)) server.kill();
                return true;
            },
            [] {});
        FAIL() << "the download succeeded without a server";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::io);
        EXPECT_NE(e.message().find("GET http://127.0.0.1:"), std::string::npos) << e.message();
        EXPECT_NE(e.message().find("(3 attempts"), std::string::npos) << e.message();
        std::cerr << "the error: " << e.message() << "\nhint: " << e.hint() << "\n";
    }
}

TEST_F(S3ClientTest, ServerGoingAwayMidUploadIsRetriedThenAClearError) {
    auto config = server.config();
    config.part_size = 64 << 10;
    config.multipart_threshold = 64 << 10;
    S3Client s3(config);
    const std::string data = random_bytes(256 << 10, 5);
    size_t pos = 0;
    try {
        s3.put(kBucket, "up", data.size(), [&](char* buf, size_t n) {
            if (pos >= (128 << 10)) server.kill();  // during the third part
            size_t k = std::min(n, data.size() - pos);
            std::memcpy(buf, data.data() + pos, k);
            pos += k;
            return k;
        });
        FAIL() << "the upload succeeded without a server";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::io);
        EXPECT_NE(e.message().find("(3 attempts"), std::string::npos) << e.message();
    }
}

TEST_F(S3ClientTest, ServerComingBackDuringTheBackoffIsRetriedToSuccess) {
    auto config = server.config();
    config.http.retry.max_attempts = 8;
    config.http.retry.base_delay_s = 0.2;
    config.http.retry.max_delay_s = 1.0;
    int gets = 0;  // GET attempts that reached a server
    config.http.on_response = [&](const HttpRequest& r, const HttpResponse&) {
        if (r.method == "GET") ++gets;
    };
    S3Client s3(config);
    const std::string data = random_bytes(8 << 20, 6);
    s3.put_string(kBucket, "obj", data);
    std::string got;
    std::thread restarter;
    int restarts = 0;
    s3.get(
        kBucket, "obj",
        [&](const char* p, size_t n) {
            if (restarts == 0) {
                ++restarts;
                server.kill();
                restarter = std::thread([&] {
                    std::this_thread::sleep_for(std::chrono::milliseconds(300));
                    server.restart();
                });
            }
            got.append(p, n);
            return true;
        },
        [&] { got.clear(); });
    restarter.join();
    EXPECT_TRUE(got == data);
    EXPECT_EQ(gets, 1) << "the first GET was cut, so only the retry answered in full";
}
