#include <gtest/gtest.h>

#include "common/error.h"
#include "service/ids.h"
#include "service/sqlite_connection.h"
#include "service/sqlite_migrations.h"
#include "service/sqlite_store.h"
#include "support/test_support.h"

using namespace llmtune;
using namespace llmtune::service;
using llmtune::test::TempDir;

namespace {

FileRecord make_file(const std::string& project, const std::string& id, const std::string& blob) {
    FileRecord f;
    f.id = id;
    f.project_id = project;
    f.filename = "train.jsonl";
    f.purpose = "fine-tune";
    f.bytes = 10;
    f.created_at = 1000;
    f.blob_sha256 = blob;
    return f;
}

ApiKeyRecord make_key(const std::string& project, const std::string& id, const std::string& hash) {
    ApiKeyRecord k;
    k.id = id;
    k.project_id = project;
    k.name = "k";
    k.key_hash = hash;
    k.redacted = "sk-...";
    k.created_at = 1;
    return k;
}

int64_t count_rows(const std::string& db_path, const char* sql) {
    SqliteConnection db(db_path);
    SqliteStatement s(db, sql);
    EXPECT_TRUE(s.step());
    return s.integer(0);
}

}  // namespace

TEST(SqliteStore, MigratesToTheLatestVersionOnceAndRecordsEachStep) {
    TempDir dir;
    std::string path = dir.file("llmtune.db");
    int latest = sqlite_migrations().back().version;
    {
        SqliteStore store(path);
        EXPECT_EQ(store.schema_version(), latest);
    }
    {
        SqliteStore again(path);  // reopening applies nothing twice
        EXPECT_EQ(again.schema_version(), latest);
    }
    EXPECT_EQ(count_rows(path, "SELECT COUNT(*) FROM schema_migrations"),
              static_cast<int64_t>(sqlite_migrations().size()));
    SqliteConnection db(path);
    SqliteStatement mode(db, "PRAGMA journal_mode");
    ASSERT_TRUE(mode.step());
    EXPECT_EQ(mode.text(0), "wal");
}

TEST(SqliteStore, RefusesADatabaseNewerThanItKnows) {
    TempDir dir;
    std::string path = dir.file("llmtune.db");
    { SqliteStore store(path); }
    {
        SqliteConnection db(path);
        db.exec("INSERT INTO schema_migrations(version, name, applied_at) VALUES (999, 'future', 0)");
    }
    try {
        SqliteStore store(path);
        FAIL() << "opened a database from the future";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::conflict);
        EXPECT_NE(e.message().find("999"), std::string::npos) << e.message();
    }
}

TEST(SqliteStore, AFailedStepRollsBackTheWholeTransaction) {
    TempDir dir;
    SqliteStore store(dir.file("llmtune.db"));
    store.create_project_with_key(Project{"proj_a", "a", 1}, make_key("proj_a", "key_1", "h1"));
    // The key's hash is taken: the key insert fails, so the new project must not exist either.
    EXPECT_THROW(
        store.create_project_with_key(Project{"proj_b", "b", 1}, make_key("proj_b", "key_2", "h1")),
        Error);
    EXPECT_FALSE(store.get_project("proj_b").has_value());
    EXPECT_EQ(store.list_projects().size(), 1u);
    // And the store is still usable after the rollback.
    store.create_project(Project{"proj_c", "c", 2});
    EXPECT_TRUE(store.get_project("proj_c").has_value());
}

TEST(SqliteStore, KeysAreFoundByHashUntilRevoked) {
    TempDir dir;
    SqliteStore store(dir.file("llmtune.db"));
    store.create_project(Project{"proj_a", "a", 1});
    store.create_api_key(make_key("proj_a", "key_1", "hash1"));
    ASSERT_TRUE(store.find_active_key("hash1").has_value());
    EXPECT_EQ(store.find_active_key("hash1")->project_id, "proj_a");
    EXPECT_FALSE(store.revoke_api_key("proj_other", "key_1", 5)) << "revoked across projects";
    EXPECT_TRUE(store.revoke_api_key("proj_a", "key_1", 5));
    EXPECT_FALSE(store.find_active_key("hash1").has_value());
    EXPECT_FALSE(store.revoke_api_key("proj_a", "key_1", 6)) << "revoked twice";
    EXPECT_THROW(store.create_api_key(make_key("proj_missing", "key_2", "hash2")), Error);
}

TEST(SqliteStore, AnotherProjectsFileIsInvisible) {
    TempDir dir;
    SqliteStore store(dir.file("llmtune.db"));
    store.create_project(Project{"proj_a", "a", 1});
    store.create_project(Project{"proj_b", "b", 1});
    store.insert_file(make_file("proj_a", "file-a1", std::string(64, 'a')));
    EXPECT_TRUE(store.get_file("proj_a", "file-a1").has_value());
    EXPECT_FALSE(store.get_file("proj_b", "file-a1").has_value());
    EXPECT_TRUE(store.list_files("proj_b", ListQuery{}).items.empty());
    EXPECT_FALSE(store.delete_file("proj_b", "file-a1").has_value());
    EXPECT_TRUE(store.get_file("proj_a", "file-a1").has_value()) << "deleted by another project";
    ListQuery q;
    q.after = "file-a1";  // a cursor from another project is not found either
    EXPECT_THROW(store.list_files("proj_b", q), Error);
    EXPECT_TRUE(store.delete_file("proj_a", "file-a1").has_value());
    EXPECT_FALSE(store.get_file("proj_a", "file-a1").has_value());
}

TEST(SqliteStore, ListsPageInCreationOrderBothWays) {
    TempDir dir;
    SqliteStore store(dir.file("llmtune.db"));
    store.create_project(Project{"proj_a", "a", 1});
    for (int i = 0; i < 5; ++i)
        store.insert_file(make_file("proj_a", "file-" + std::to_string(i), std::string(64, 'b')));
    ListQuery q;
    q.limit = 2;
    auto p1 = store.list_files("proj_a", q);  // newest first
    ASSERT_EQ(p1.items.size(), 2u);
    EXPECT_EQ(p1.items[0].id, "file-4");
    EXPECT_EQ(p1.items[1].id, "file-3");
    EXPECT_TRUE(p1.has_more);
    q.after = "file-3";
    auto p2 = store.list_files("proj_a", q);
    ASSERT_EQ(p2.items.size(), 2u);
    EXPECT_EQ(p2.items[0].id, "file-2");
    q.after = "file-1";
    auto p3 = store.list_files("proj_a", q);
    ASSERT_EQ(p3.items.size(), 1u);
    EXPECT_FALSE(p3.has_more);
    ListQuery asc;
    asc.ascending = true;
    asc.limit = 10;
    auto all = store.list_files("proj_a", asc);
    ASSERT_EQ(all.items.size(), 5u);
    EXPECT_EQ(all.items.front().id, "file-0");
    EXPECT_FALSE(all.has_more);
    asc.purpose = "batch";
    EXPECT_TRUE(store.list_files("proj_a", asc).items.empty());
}

TEST(SqliteStore, ProcessingOutcomeAppliesOnlyToAnUploadedFile) {
    TempDir dir;
    SqliteStore store(dir.file("llmtune.db"));
    store.create_project(Project{"proj_a", "a", 1});
    store.insert_file(make_file("proj_a", "file-x", std::string(64, 'c')));
    EXPECT_EQ(store.files_with_status(kFileUploaded).size(), 1u);
    FileProcessingResult r;
    r.status = kFileProcessed;
    r.status_details = "ok";
    r.canonical_sha256 = std::string(64, 'd');
    r.canonical_records = 3;
    EXPECT_TRUE(store.finish_file_processing("file-x", r));
    EXPECT_FALSE(store.finish_file_processing("file-x", r)) << "a second outcome overwrote the first";
    auto f = store.get_file("proj_a", "file-x");
    EXPECT_EQ(f->status, kFileProcessed);
    EXPECT_EQ(f->canonical_records, 3);
    EXPECT_TRUE(store.files_with_status(kFileUploaded).empty());
    EXPECT_EQ(store.blob_references(std::string(64, 'c')), 1);
    EXPECT_EQ(store.blob_references(std::string(64, 'd')), 1);
    EXPECT_FALSE(store.finish_file_processing("file-missing", r));
}

TEST(SqliteStore, CommittedChangesSurviveReopening) {
    TempDir dir;
    std::string path = dir.file("llmtune.db");
    {
        SqliteStore store(path);
        store.create_project(Project{"proj_a", "a", 1});
        store.insert_file(make_file("proj_a", "file-p", std::string(64, 'e')));
    }
    SqliteStore store(path);
    EXPECT_TRUE(store.get_file("proj_a", "file-p").has_value());
}
