#include <gtest/gtest.h>
#include <sys/stat.h>

#include "common/error.h"
#include "service/auth.h"
#include "service/ids.h"
#include "service/sha256.h"
#include "service/sqlite_store.h"
#include "support/test_support.h"

using namespace llmtune;
using namespace llmtune::service;
using llmtune::test::read_file;
using llmtune::test::TempDir;

namespace {
ErrorKind kind_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.kind();
    }
    ADD_FAILURE() << "no error thrown";
    return ErrorKind::internal;
}
}  // namespace

TEST(Ids, HavePrefixAndRandomBase62) {
    std::string a = new_id("file-"), b = new_id("file-");
    EXPECT_EQ(a.rfind("file-", 0), 0u);
    EXPECT_EQ(a.size(), 5u + 24u);
    EXPECT_NE(a, b);
    for (char c : a.substr(5)) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << a;
    std::string key = new_api_key();
    EXPECT_EQ(key.rfind("sk-llmtune-", 0), 0u);
    EXPECT_EQ(redact_api_key(key).find(key.substr(15, 20)), std::string::npos);
}

TEST(Auth, FirstStartCreatesAnAdminKeyFileReadableByItsOwnerOnly) {
    TempDir dir;
    SqliteStore store(dir.file("llmtune.db"));
    Auth auth(store);
    auto boot = auth.ensure_admin_key(dir.path());
    EXPECT_TRUE(boot.created);
    struct stat st {};
    ASSERT_EQ(::stat(boot.key_path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(read_file(boot.key_path), boot.key + "\n");
    Principal p = auth.authenticate("Bearer " + boot.key);
    EXPECT_TRUE(p.admin);
    EXPECT_EQ(p.project_id, boot.project_id);
    // The key itself is not in the database, only its hash.
    auto rec = store.find_active_key(sha256_hex(boot.key));
    ASSERT_TRUE(rec.has_value());
    EXPECT_EQ(rec->key_hash.find(boot.key), std::string::npos);

    auto again = auth.ensure_admin_key(dir.path());
    EXPECT_FALSE(again.created);
    EXPECT_EQ(again.key, boot.key);
    EXPECT_EQ(store.list_projects().size(), 1u);
}

TEST(Auth, AMissingAdminKeyFileGetsANewKey) {
    TempDir dir;
    SqliteStore store(dir.file("llmtune.db"));
    Auth auth(store);
    auto boot = auth.ensure_admin_key(dir.path());
    std::remove(boot.key_path.c_str());
    auto again = auth.ensure_admin_key(dir.path());
    EXPECT_TRUE(again.created);
    EXPECT_NE(again.key, boot.key);
    EXPECT_EQ(again.project_id, boot.project_id);
}

TEST(Auth, RejectsMissingMalformedUnknownAndRevokedKeys) {
    TempDir dir;
    SqliteStore store(dir.file("llmtune.db"));
    Auth auth(store);
    auth.ensure_admin_key(dir.path());
    Project p = auth.create_project("team");
    CreatedKey k = auth.create_key(p.id, "ci");
    EXPECT_EQ(auth.authenticate("Bearer " + k.key).project_id, p.id);
    EXPECT_FALSE(auth.authenticate("Bearer " + k.key).admin);
    EXPECT_EQ(kind_of([&] { auth.authenticate(""); }), ErrorKind::unauthorized);
    EXPECT_EQ(kind_of([&] { auth.authenticate(k.key); }), ErrorKind::unauthorized);
    EXPECT_EQ(kind_of([&] { auth.authenticate("Basic abc"); }), ErrorKind::unauthorized);
    EXPECT_EQ(kind_of([&] { auth.authenticate("Bearer sk-llmtune-nope"); }), ErrorKind::unauthorized);
    auth.revoke_key(p.id, k.record.id);
    EXPECT_EQ(kind_of([&] { auth.authenticate("Bearer " + k.key); }), ErrorKind::unauthorized);
    EXPECT_EQ(kind_of([&] { auth.revoke_key(p.id, k.record.id); }), ErrorKind::not_found);
    EXPECT_EQ(kind_of([&] { auth.create_key("proj_missing", "x"); }), ErrorKind::not_found);
    EXPECT_EQ(kind_of([&] { require_admin(Principal{p.id, "k", false}); }), ErrorKind::unauthorized);
}
