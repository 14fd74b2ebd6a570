#include <gtest/gtest.h>

#include <filesystem>

#include "common/error.h"
#include "service/blob_store.h"
#include "service/sha256.h"
#include "support/test_support.h"

using namespace llmtune;
using namespace llmtune::service;
using llmtune::test::read_file;
using llmtune::test::TempDir;
namespace fs = std::filesystem;

TEST(Sha256, MatchesKnownDigests) {
    // FIPS 180-2 examples.
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(BlobStore, StreamedWritesLandAtTheirHashPath) {
    TempDir dir;
    LocalBlobStore store(dir.path());
    auto w = store.begin();
    std::string content;
    for (int i = 0; i < 1000; ++i) {
        std::string piece = "line " + std::to_string(i) + "\n";
        w->write(piece.data(), piece.size());
        content += piece;
    }
    BlobInfo info = w->commit();
    EXPECT_EQ(info.sha256, sha256_hex(content));
    EXPECT_EQ(info.size, content.size());
    std::string expected = dir.path() + "/blobs/sha256/" + info.sha256.substr(0, 2) + "/" + info.sha256;
    EXPECT_EQ(store.path(info.sha256), expected);
    EXPECT_EQ(read_file(expected), content);
    EXPECT_TRUE(fs::is_empty(dir.path() + "/blobs/tmp")) << "temp file left after commit";
}

TEST(BlobStore, SameContentIsOneBlob) {
    TempDir dir;
    LocalBlobStore store(dir.path());
    auto a = store.put("same bytes");
    auto b = store.put("same bytes");
    EXPECT_EQ(a.sha256, b.sha256);
    EXPECT_TRUE(store.exists(a.sha256));
    store.remove(a.sha256);
    EXPECT_FALSE(store.exists(a.sha256));
    store.remove(a.sha256);  // removing a missing blob is not an error
}

TEST(BlobStore, AnAbandonedWriteLeavesNothing) {
    TempDir dir;
    LocalBlobStore store(dir.path());
    {
        auto w = store.begin();
        w->write("partial", 7);
    }
    EXPECT_TRUE(fs::is_empty(dir.path() + "/blobs/tmp"));
    EXPECT_FALSE(store.exists(sha256_hex("partial")));
}

TEST(BlobStore, StaleTempFilesFromACrashAreRemovedAtStart) {
    TempDir dir;
    { LocalBlobStore store(dir.path()); }
    llmtune::test::write_file(dir.path() + "/blobs/tmp/123-0", "torn");
    LocalBlobStore store(dir.path());
    EXPECT_TRUE(fs::is_empty(dir.path() + "/blobs/tmp"));
}

TEST(BlobStore, MalformedHashesNeverBecomePaths) {
    TempDir dir;
    LocalBlobStore store(dir.path());
    EXPECT_THROW(store.path("../../etc/passwd"), Error);
    EXPECT_THROW(store.path(std::string(64, 'G')), Error);
    EXPECT_THROW(store.path(std::string(63, 'a')), Error);
}
