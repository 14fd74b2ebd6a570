#include <gtest/gtest.h>

#include <filesystem>

#include "common/error.h"
#include "common/json_file.h"
#include "service/ids.h"
#include "service/service.h"
#include "service/sha256.h"
#include "support/test_support.h"

using namespace llmtune;
using namespace llmtune::service;
using llmtune::test::read_file;
using llmtune::test::TempDir;

namespace {

// A service on `data_dir` with no models dir and one file worker (the defaults).
ServiceConfig config_in(const std::string& data_dir) {
    ServiceConfig c;
    c.data_dir = data_dir;
    return c;
}

const char* kChat =
    R"({"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]})"
    "\n"
    R"({"prompt":"2+2","completion":"4"})"
    "\n";

const char* kValidChat =
    R"({"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]})"
    "\n"
    R"({"messages":[{"role":"user","content":"2+2"},{"role":"assistant","content":"4"}]})"
    "\n";

FileRecord upload(Service& svc, const Principal& who, const std::string& name,
                  const std::string& bytes) {
    auto w = svc.files().begin_upload();
    w->write(bytes.data(), bytes.size());
    return svc.files().create(who, name, "fine-tune", *w);
}

Principal admin_of(Service& svc) { return svc.auth().authenticate("Bearer " + svc.admin_key().key); }

}  // namespace

TEST(FileService, ValidFileIsProcessedIntoCanonicalJsonl) {
    TempDir dir;
    Service svc(config_in(dir.file("data")));
    Principal who = admin_of(svc);
    FileRecord f = upload(svc, who, "train.jsonl", kValidChat);
    EXPECT_EQ(f.status, kFileUploaded);
    EXPECT_EQ(f.bytes, static_cast<int64_t>(std::string(kValidChat).size()));
    EXPECT_EQ(f.blob_sha256, sha256_hex(kValidChat));
    svc.queue().wait_idle();
    FileRecord done = svc.files().get(who, f.id);
    EXPECT_EQ(done.status, kFileProcessed) << done.status_details;
    EXPECT_EQ(done.canonical_records, 2);
    auto report = parse_json_text(done.report_json, "report");
    EXPECT_EQ(report["file"], "train.jsonl");
    std::string canonical = read_file(svc.files().content_path(who, f.id, true));
    EXPECT_EQ(sha256_hex(canonical), done.canonical_sha256);
    EXPECT_EQ(std::count(canonical.begin(), canonical.end(), '\n'), 2);
}

TEST(FileService, MixedShapesEndInErrorWithTheReason) {
    TempDir dir;
    Service svc(config_in(dir.file("data")));
    Principal who = admin_of(svc);
    FileRecord f = upload(svc, who, "mixed.jsonl", kChat);
    svc.queue().wait_idle();
    FileRecord done = svc.files().get(who, f.id);
    EXPECT_EQ(done.status, kFileError);
    EXPECT_NE(done.status_details.find("mixes shapes"), std::string::npos) << done.status_details;
    EXPECT_NE(done.status_details.find("mixed.jsonl"), std::string::npos);
    EXPECT_EQ(done.status_details.find("work/files"), std::string::npos)
        << "the server's scratch path leaked: " << done.status_details;
    EXPECT_EQ(done.canonical_sha256, "");
    EXPECT_THROW(svc.files().content_path(who, f.id, true), Error);
}

TEST(FileService, RejectsWrongPurposeAndUnreadableExtensions) {
    EXPECT_THROW(FileService::check_purpose("batch"), Error);
    EXPECT_THROW(FileService::check_purpose(""), Error);
    FileService::check_purpose("fine-tune");
    for (const char* ok : {"a.jsonl", "a.JSONL", "a.json", "a.csv", "a.tsv", "a.txt", "a.jsonl.gz",
                           "a.csv.zst", "a.ndjson"})
        EXPECT_NO_THROW(FileService::check_filename(ok)) << ok;
    for (const char* bad : {"a.pdf", "a", ".jsonl", "a.gz", "a.jsonl.bz2"})
        EXPECT_THROW(FileService::check_filename(bad), Error) << bad;
}

TEST(FileService, AFileLeftUploadedIsProcessedAtTheNextStart) {
    TempDir dir;
    std::string data = dir.file("data");
    std::string id;
    {
        Service svc(config_in(data));
        svc.queue().stop();  // as if killed before the worker got to the file
        Principal who = admin_of(svc);
        id = upload(svc, who, "train.jsonl", kValidChat).id;
        EXPECT_EQ(svc.files().get(who, id).status, kFileUploaded);
    }
    Service svc(config_in(data));
    svc.queue().wait_idle();
    EXPECT_EQ(svc.files().get(admin_of(svc), id).status, kFileProcessed);
}

TEST(FileService, DeleteRemovesBlobsNoOtherFileUses) {
    TempDir dir;
    Service svc(config_in(dir.file("data")));
    Principal who = admin_of(svc);
    FileRecord a = upload(svc, who, "a.jsonl", kValidChat);
    FileRecord b = upload(svc, who, "b.jsonl", kValidChat);  // same bytes, same blob
    svc.queue().wait_idle();
    std::string canonical = svc.files().get(who, a.id).canonical_sha256;
    svc.files().remove(who, a.id);
    EXPECT_TRUE(svc.blobs().exists(a.blob_sha256)) << "removed a blob another file uses";
    EXPECT_TRUE(svc.blobs().exists(canonical));
    svc.files().remove(who, b.id);
    EXPECT_FALSE(svc.blobs().exists(a.blob_sha256));
    EXPECT_FALSE(svc.blobs().exists(canonical));
    EXPECT_THROW(svc.files().remove(who, b.id), Error);
}

TEST(FileService, AnotherProjectsFileAnswersLikeAMissingOne) {
    TempDir dir;
    Service svc(config_in(dir.file("data")));
    Principal admin = admin_of(svc);
    Project other = svc.auth().create_project("other");
    Principal intruder = svc.auth().authenticate("Bearer " + svc.auth().create_key(other.id, "k").key);
    FileRecord f = upload(svc, admin, "a.jsonl", kValidChat);
    std::string missing_message, foreign_message;
    try {
        svc.files().get(intruder, f.id);
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::not_found);
        foreign_message = e.message();
    }
    std::string fake = "file-" + std::string(24, 'x');
    try {
        svc.files().get(intruder, fake);
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::not_found);
        missing_message = e.message();
    }
    // The messages differ only by the id quoted.
    EXPECT_EQ(foreign_message.substr(0, foreign_message.size() - f.id.size()),
              missing_message.substr(0, missing_message.size() - fake.size()));
    EXPECT_THROW(svc.files().remove(intruder, f.id), Error);
    EXPECT_THROW(svc.files().content_path(intruder, f.id, false), Error);
    EXPECT_TRUE(svc.files().list(intruder, ListQuery{}).items.empty());
    EXPECT_NO_THROW(svc.files().get(admin, f.id));
}
