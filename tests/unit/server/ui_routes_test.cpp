// The web UI's static files over real HTTP: the embedded copy and --ui-dir, content types,
// caching, gzip, no key needed, traversal attempts refused, and the API's JSON 404 kept.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/error.h"
#include "common/json_file.h"
#include "http_test_util.h"
#include "server/routes.h"
#include "server/server_config.h"
#include "server/ui/ui_assets.h"

using namespace llmtune;
using llmtune::test::raw_get;
using llmtune::test::TempDir;
using llmtune::test::TestServer;
namespace fs = std::filesystem;

namespace {

// The body is the API's OpenAI-shaped 404 for an unknown URL.
void expect_json_404(const test::HttpReply& r, const std::string& what) {
    EXPECT_EQ(r.status, 404) << what;
    EXPECT_EQ(r.header("content-type"), "application/json") << what;
    auto j = ordered_json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << what << ": " << r.body;
    EXPECT_EQ(j["error"]["type"], "invalid_request_error") << what;
    EXPECT_TRUE(j["error"]["message"].is_string()) << what;
}

// Paths that try to leave the UI's files, in the spellings clients and attackers use.
const char* kTraversals[] = {
    "/assets/../../etc/passwd",
    "/assets/..%2f..%2f..%2fetc%2fpasswd",
    "/assets/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/assets/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/..%2f..%2f..%2fetc%2fpasswd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/../../../etc/passwd",
    "/assets/..",
    "/assets/%2e%2e",
    "/..",
    "/.",
    "/assets/.%2e/index.html",
    "/assets/..%5c..%5cetc%5cpasswd",
    "//etc/passwd",
    "/assets//etc/passwd",
    "/assets/%00index.html",
};

}  // namespace

TEST(UiContentType, ByExtension) {
    EXPECT_EQ(server::ui_content_type("index.html"), "text/html; charset=utf-8");
    EXPECT_EQ(server::ui_content_type("assets/index-abc.js"), "text/javascript; charset=utf-8");
    EXPECT_EQ(server::ui_content_type("assets/index-abc.css"), "text/css; charset=utf-8");
    EXPECT_EQ(server::ui_content_type("favicon.svg"), "image/svg+xml");
    EXPECT_EQ(server::ui_content_type("assets/font.woff2"), "font/woff2");
    EXPECT_EQ(server::ui_content_type("assets/x.png"), "image/png");
    EXPECT_EQ(server::ui_content_type("assets/x.json"), "application/json");
    EXPECT_EQ(server::ui_content_type("assets/x.bin"), "application/octet-stream");
    EXPECT_EQ(server::ui_content_type("js"), "application/octet-stream");
}

TEST(UiRoutes, EmbeddedFilesAreServedWithTypesAndCachingWithoutAKey) {
    TempDir dir;
    TestServer server(dir.file("data"));
    auto table = server::embedded_ui_assets();
    if (table.count == 0) {
        // A build with -DLLMTUNE_UI=OFF says so at /.
        auto r = raw_get(server.port(), "/");
        EXPECT_EQ(r.status, 404);
        EXPECT_NE(r.body.find("LLMTUNE_UI=OFF"), std::string::npos) << r.body;
        GTEST_SKIP() << "built without the web UI";
    }
    bool saw_index = false, saw_asset = false;
    for (size_t i = 0; i < table.count; ++i) {
        const auto& a = table.items[i];
        std::string path = a.path;
        if (i > 0) {
            EXPECT_LT(std::string(table.items[i - 1].path), path) << "sorted";
        }
        auto r = raw_get(server.port(), "/" + path);  // no Authorization header
        ASSERT_EQ(r.status, 200) << path;
        EXPECT_EQ(r.body, std::string(a.data, a.size)) << path;
        EXPECT_EQ(r.header("content-type"), server::ui_content_type(path)) << path;
        EXPECT_EQ(r.header("x-content-type-options"), "nosniff");
        if (path == "index.html") {
            saw_index = true;
            EXPECT_EQ(r.header("cache-control"), "no-cache");
            auto root = raw_get(server.port(), "/");
            EXPECT_EQ(root.status, 200);
            EXPECT_EQ(root.body, r.body);
            EXPECT_EQ(root.header("content-type"), "text/html; charset=utf-8");
            EXPECT_EQ(root.header("cache-control"), "no-cache");
        } else if (path.rfind("assets/", 0) == 0) {
            saw_asset = true;
            EXPECT_EQ(r.header("cache-control"), "public, max-age=31536000, immutable") << path;
        }
        if (a.gzip) {
            // The stored gzip copy, as is, for a client that takes gzip (also when it prefers br:
            // cpp-httplib must not compress it a second time).
            for (const char* accept : {"gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.8"}) {
                auto g = raw_get(server.port(), "/" + path,
                                 std::string("Accept-Encoding: ") + accept + "\r\n");
                EXPECT_EQ(g.status, 200);
                EXPECT_EQ(g.header("content-encoding"), "gzip") << path << " " << accept;
                EXPECT_EQ(g.body, std::string(a.gzip, a.gzip_size)) << path << " " << accept;
                EXPECT_EQ(g.header("vary"), "Accept-Encoding");
            }
            auto no = raw_get(server.port(), "/" + path, "Accept-Encoding: gzip;q=0\r\n");
            EXPECT_EQ(no.header("content-encoding"), "") << path;
            EXPECT_EQ(no.body, std::string(a.data, a.size)) << path;
        }
    }
    EXPECT_TRUE(saw_index);
    EXPECT_TRUE(saw_asset) << "Vite's build puts its scripts under assets/";
    expect_json_404(raw_get(server.port(), "/assets/no-such-file.js"), "missing asset");
    expect_json_404(raw_get(server.port(), "/no-such-file.js"), "missing file");
}

TEST(UiRoutes, TraversalAttemptsNeverLeaveTheUiFiles) {
    TempDir dir;
    TestServer server(dir.file("data"));
    for (const char* p : kTraversals) {
        auto r = raw_get(server.port(), p);
        EXPECT_TRUE(r.status == 404 || r.status == 400) << p << " -> " << r.status;
        EXPECT_EQ(r.body.find("root:"), std::string::npos) << p;
    }
}

TEST(UiRoutes, ApiPathsKeepTheirJsonAnswers) {
    TempDir dir;
    TestServer server(dir.file("data"));
    for (const char* p : {"/v1", "/v1/", "/v1/nope", "/v1/files/file-x/nope", "/v1/assets/x.js",
                          "/assets/", "/assets/a/b.js"}) {
        auto r = raw_get(server.port(), p, server.auth());
        expect_json_404(r, p);
    }
    auto r = raw_get(server.port(), "/v1/nope", server.auth());
    EXPECT_EQ(ordered_json::parse(r.body)["error"]["code"], "unknown_url");
    auto h = raw_get(server.port(), "/healthz");
    EXPECT_EQ(h.status, 200);
    EXPECT_EQ(ordered_json::parse(h.body)["status"], "ok");
    EXPECT_EQ(raw_get(server.port(), "/metrics").status, 200);
    // The API still wants its key.
    EXPECT_EQ(raw_get(server.port(), "/v1/files").status, 401);
    EXPECT_EQ(raw_get(server.port(), "/v1/files", server.auth()).status, 200);
}

TEST(UiRoutes, UiDirServesTheFolderAndNothingOutsideIt) {
    TempDir dir;
    std::string ui = dir.file("ui");
    fs::create_directories(ui + "/assets");
    test::write_file(ui + "/index.html", "<!doctype html><title>dev</title>");
    test::write_file(ui + "/assets/app.js", "console.log('dev')");
    test::write_file(ui + "/assets/app.css", "body{}");
    test::write_file(ui + "/favicon.svg", "<svg/>");
    test::write_file(ui + "/.env", "SECRET=1");
    test::write_file(dir.file("secret.txt"), "root:x:0:0");
    fs::create_symlink("../../secret.txt", ui + "/assets/link.js");
    fs::create_symlink(dir.path(), ui + "/up");

    TestServer server(dir.file("data"), "", ui);
    auto r = raw_get(server.port(), "/");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "<!doctype html><title>dev</title>");
    EXPECT_EQ(r.header("content-type"), "text/html; charset=utf-8");
    EXPECT_EQ(r.header("cache-control"), "no-cache");
    auto js = raw_get(server.port(), "/assets/app.js");
    EXPECT_EQ(js.status, 200);
    EXPECT_EQ(js.body, "console.log('dev')");
    EXPECT_EQ(js.header("content-type"), "text/javascript; charset=utf-8");
    EXPECT_EQ(js.header("cache-control"), "no-cache");  // files being edited: never cached
    EXPECT_EQ(raw_get(server.port(), "/assets/app.css").header("content-type"),
              "text/css; charset=utf-8");
    EXPECT_EQ(raw_get(server.port(), "/favicon.svg").header("content-type"), "image/svg+xml");
    // Edits show at once.
    test::write_file(ui + "/assets/app.js", "console.log('edited')");
    EXPECT_EQ(raw_get(server.port(), "/assets/app.js").body, "console.log('edited')");

    for (const char* p : {"/.env", "/assets/link.js", "/up", "/up/secret.txt", "/secret.txt",
                          "/assets/..%2f..%2fsecret.txt", "/assets/%2e%2e/%2e%2e/secret.txt",
                          "/assets/../../secret.txt", "/..%2fsecret.txt", "/assets"}) {
        auto x = raw_get(server.port(), p);
        EXPECT_TRUE(x.status == 404 || x.status == 400) << p << " -> " << x.status;
        EXPECT_EQ(x.body.find("root:"), std::string::npos) << p;
        EXPECT_EQ(x.body.find("SECRET"), std::string::npos) << p;
    }
    for (const char* p : kTraversals) {
        auto x = raw_get(server.port(), p);
        EXPECT_TRUE(x.status == 404 || x.status == 400) << p << " -> " << x.status;
        EXPECT_EQ(x.body.find("root:"), std::string::npos) << p;
    }
    expect_json_404(raw_get(server.port(), "/v1/nope"), "/v1/nope with --ui-dir");
}

TEST(UiDirSetting, FlagEnvironmentAndYamlAreChecked) {
    TempDir dir;
    fs::create_directories(dir.file("ui"));
    fs::create_directories(dir.file("empty"));
    test::write_file(dir.file("ui/index.html"), "x");
    auto no_env = [](const char*) -> const char* { return nullptr; };
    EXPECT_EQ(server::resolve_server_config({}, no_env).ui_dir, "");
    EXPECT_EQ(server::resolve_server_config({{"ui_dir", dir.file("ui")}}, no_env).ui_dir,
              dir.file("ui"));
    try {
        server::resolve_server_config({{"ui_dir", dir.file("missing")}}, no_env);
        ADD_FAILURE() << "a missing folder must be refused";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
        EXPECT_NE(std::string(e.what()).find("--ui-dir"), std::string::npos) << e.what();
    }
    try {
        server::resolve_server_config({{"ui_dir", dir.file("empty")}}, no_env);
        ADD_FAILURE() << "a folder without index.html must be refused";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("index.html"), std::string::npos) << e.what();
    }
    std::string ui = dir.file("ui");
    auto env = [&](const char* name) -> const char* {
        return std::string(name) == "LLMTUNE_UI_DIR" ? ui.c_str() : nullptr;
    };
    EXPECT_EQ(server::resolve_server_config({}, env).ui_dir, ui);
    test::write_file(dir.file("c.yaml"), "ui_dir: " + ui + "\n");
    EXPECT_EQ(server::resolve_server_config({{"config", dir.file("c.yaml")}}, no_env).ui_dir, ui);
}
