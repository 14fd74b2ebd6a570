// The S3 blob store against s3rver on loopback: the content-addressed key layout, streamed
// writes, multipart above a small part size, deduplication, the local cache (cold reads
// downloaded and verified by hash), removal, missing and corrupted blobs, a server gone at
// commit, the start-up bucket check, and the Files service running on it (upload, processing
// through a cached copy, download after the cache was dropped).
#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <random>

#include "cloud/s3_client.h"
#include "common/error.h"
#include "service/blob_store_config.h"
#include "service/s3_blob_store.h"
#include "service/service.h"
#include "service/sha256.h"
#include "support/test_support.h"
#include "unit/cloud/s3rver_fixture.h"
#include "unit/cloud/s3_test_util.h"

using namespace llmtune;
using namespace llmtune::service;
using llmtune::test::read_file;
using llmtune::test::TempDir;
namespace fs = std::filesystem;

using llmtune::test::random_bytes;

namespace {

const char* kBucket = "blob-bucket";

class S3BlobStoreTest : public ::testing::Test {
  protected:
    cloud::S3Location where() const { return {kBucket, "team/llmtune"}; }
    std::string key_of(const std::string& sha) const {
        return "team/llmtune/blobs/sha256/" + sha.substr(0, 2) + "/" + sha;
    }
    TempDir dir;
    llmtune::test::S3rverProcess server{dir.file("s3"), kBucket};
};

}  // namespace

TEST_F(S3BlobStoreTest, StreamedWritesLandUnderTheirHashKey) {
    S3BlobStore store(server.config(), where(), dir.file("data"));
    auto w = store.begin();
    w->write("hello ", 6);
    w->write("world", 5);
    BlobInfo info = w->commit();
    EXPECT_EQ(info.sha256, sha256_hex("hello world"));
    EXPECT_EQ(info.size, 11u);
    cloud::S3Client s3(server.config());
    EXPECT_EQ(s3.get_string(kBucket, key_of(info.sha256)), "hello world");
    EXPECT_TRUE(store.exists(info.sha256));
    EXPECT_EQ(store.size(info.sha256), 11u);
    EXPECT_EQ(read_file(store.path(info.sha256)), "hello world");
    EXPECT_EQ(store.location(), "s3://blob-bucket/team/llmtune");
    EXPECT_TRUE(fs::is_empty(dir.file("data/blobs/tmp"))) << "staging file left behind";
}

TEST_F(S3BlobStoreTest, ColdCacheDownloadsAndVerifies) {
    BlobInfo info;
    {
        S3BlobStore writer_store(server.config(), where(), dir.file("a"));
        info = writer_store.put("shared bytes");
    }
    // Another server (data dir) on the same bucket: nothing cached yet.
    S3BlobStore store(server.config(), where(), dir.file("b"));
    std::string p = store.path(info.sha256);
    EXPECT_EQ(p.rfind(dir.file("b/blobs/sha256/"), 0), 0u) << p;
    EXPECT_EQ(read_file(p), "shared bytes");
    EXPECT_TRUE(fs::is_empty(dir.file("b/blobs/tmp")));
}

TEST_F(S3BlobStoreTest, LargeBlobsGoMultipartAndDeduplicate) {
    auto config = server.config();
    config.part_size = 64 << 10;
    config.multipart_threshold = 64 << 10;
    int part_puts = 0, puts = 0;
    config.http.on_response = [&](const cloud::HttpRequest& r, const cloud::HttpResponse&) {
        if (r.method != "PUT") return;
        ++puts;
        if (r.url.find("partNumber=") != std::string::npos) ++part_puts;
    };
    S3BlobStore store(config, where(), dir.file("data"));
    const std::string data = random_bytes((300 << 10) + 1, 7);
    BlobInfo info = store.put(data);
    EXPECT_EQ(part_puts, 5);
    cloud::S3Client s3(server.config());
    EXPECT_TRUE(s3.get_string(kBucket, key_of(info.sha256)) == data);
    // The same content again: the key exists with that size, nothing is uploaded.
    puts = 0;
    EXPECT_EQ(store.put(data).sha256, info.sha256);
    EXPECT_EQ(puts, 0);
    EXPECT_EQ(s3.list(kBucket, "team/llmtune/blobs/").size(), 1u);
}

TEST_F(S3BlobStoreTest, RemoveDeletesTheObjectAndTheCachedCopy) {
    S3BlobStore store(server.config(), where(), dir.file("data"));
    BlobInfo info = store.put("to be removed");
    std::string cached = store.path(info.sha256);
    ASSERT_TRUE(fs::exists(cached));
    store.remove(info.sha256);
    EXPECT_FALSE(store.exists(info.sha256));
    EXPECT_FALSE(fs::exists(cached));
    store.remove(info.sha256);  // a missing blob is not an error
}

TEST_F(S3BlobStoreTest, MissingAndMalformedBlobs) {
    S3BlobStore store(server.config(), where(), dir.file("data"));
    const std::string absent = sha256_hex("never stored");
    EXPECT_FALSE(store.exists(absent));
    try {
        store.path(absent);
        FAIL() << "a missing blob has a path";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::not_found);
    }
    try {
        store.size(absent);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::not_found);
        EXPECT_NE(e.message().find(key_of(absent)), std::string::npos) << e.message();
    }
    EXPECT_THROW(store.path("../../etc/passwd"), Error);
    EXPECT_THROW(store.exists(std::string(63, 'a')), Error);
}

TEST_F(S3BlobStoreTest, AnObjectWhoseBytesDoNotMatchItsNameIsRefused) {
    S3BlobStore store(server.config(), where(), dir.file("data"));
    const std::string sha = sha256_hex("the real content");
    cloud::S3Client s3(server.config());
    s3.put_string(kBucket, key_of(sha), "tampered content");
    try {
        store.path(sha);
        FAIL() << "served bytes that do not hash to the blob's name";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::io);
        EXPECT_NE(e.message().find("SHA-256"), std::string::npos) << e.message();
    }
    EXPECT_FALSE(fs::exists(store.cache_path(sha)));
    EXPECT_FALSE(fs::exists(store.cache_path(sha256_hex("tampered content"))));
}

TEST_F(S3BlobStoreTest, ServerGoneAtCommitIsAClearErrorAndCachesNothing) {
    S3BlobStore store(server.config(), where(), dir.file("data"));
    auto w = store.begin();
    w->write("unsent", 6);
    server.kill();
    try {
        w->commit();
        FAIL() << "committed without a server";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::io);
        EXPECT_NE(e.message().find("attempts"), std::string::npos) << e.message();
    }
    EXPECT_FALSE(fs::exists(store.cache_path(sha256_hex("unsent"))));
}

TEST_F(S3BlobStoreTest, StartUpChecksTheBucket) {
    try {
        S3BlobStore store(server.config(), {"no-such-bucket", "x"}, dir.file("data"));
        FAIL() << "opened a store on a missing bucket";
    } catch (const cloud::S3Error& e) {
        EXPECT_EQ(e.code(), "NoSuchBucket");
    }
}

TEST_F(S3BlobStoreTest, OpenBlobStoreFromSettings) {
    StoreConfig c;
    c.store = "s3://" + std::string(kBucket) + "/team/llmtune/";
    c.s3_endpoint = server.endpoint();
    c.s3_path_style = true;
    ::setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
    auto store = open_blob_store(c, dir.file("data"));
    EXPECT_EQ(store->location(), "s3://blob-bucket/team/llmtune");
    EXPECT_NE(dynamic_cast<S3BlobStore*>(store.get()), nullptr);
    // Bad settings.
    StoreConfig bad = c;
    bad.store = "gs://bucket";
    EXPECT_THROW(open_blob_store(bad, dir.file("data")), Error);
    bad = c;
    bad.store = "s3://Bad_Bucket";
    EXPECT_THROW(open_blob_store(bad, dir.file("data")), Error);
    StoreConfig local;
    local.s3_endpoint = server.endpoint();  // S3 settings without an S3 store
    EXPECT_THROW(open_blob_store(local, dir.file("data")), Error);
    local.s3_endpoint.clear();
    EXPECT_NE(dynamic_cast<LocalBlobStore*>(open_blob_store(local, dir.file("data")).get()),
              nullptr);
}

TEST_F(S3BlobStoreTest, FilesServiceRunsOnTheS3Store) {
    ::setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
    const std::string chat =
        R"({"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]})"
        "\n";
    ServiceConfig sc;
    sc.data_dir = dir.file("data");
    sc.store.store = "s3://" + std::string(kBucket) + "/svc";
    sc.store.s3_endpoint = server.endpoint();
    sc.store.s3_path_style = true;
    std::string id, canonical_sha;
    {
        Service svc(sc);
        Principal who = svc.auth().authenticate("Bearer " + svc.admin_key().key);
        auto w = svc.files().begin_upload();
        w->write(chat.data(), chat.size());
        FileRecord f = svc.files().create(who, "train.jsonl", "fine-tune", *w);
        id = f.id;
        svc.queue().wait_idle();
        FileRecord done = svc.files().get(who, id);
        ASSERT_EQ(done.status, kFileProcessed) << done.status_details;
        canonical_sha = done.canonical_sha256;
        cloud::S3Client s3(server.config());
        EXPECT_EQ(s3.get_string(kBucket, "svc/blobs/sha256/" + f.blob_sha256.substr(0, 2) + "/" +
                                             f.blob_sha256),
                  chat);
        EXPECT_TRUE(svc.blobs().exists(canonical_sha));
        svc.shutdown();
    }
    // The cache is dropped while the server is stopped: reads come from the bucket.
    fs::remove_all(dir.file("data/blobs/sha256"));
    {
        Service svc(sc);
        Principal who = svc.auth().authenticate("Bearer " + svc.admin_key().key);
        std::string canonical = read_file(svc.files().content_path(who, id, true));
        EXPECT_EQ(sha256_hex(canonical), canonical_sha);
        EXPECT_EQ(read_file(svc.files().content_path(who, id, false)), chat);
        // Deleting the file deletes both blobs from the bucket.
        svc.files().remove(who, id);
        EXPECT_FALSE(svc.blobs().exists(canonical_sha));
        EXPECT_FALSE(svc.blobs().exists(sha256_hex(chat)));
        svc.shutdown();
    }
}
