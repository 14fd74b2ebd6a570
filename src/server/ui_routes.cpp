// GET / and the web UI's files, without a key (the UI itself sends the key with its API calls).
//
// The files come from the copy embedded at build time (ui/ui_assets.h) or, with --ui-dir, from
// a folder read at each request (for working on the UI). Only these paths are served:
//   /                 index.html
//   /assets/NAME      Vite's content-hashed files: cached for a year
//   /NAME             other top-level files of the build (favicon, ...)
// NAME is one path segment; "." and ".." and names starting with '.' are refused, and a folder's
// file must resolve (symlinks followed) inside the folder, so nothing outside it can be reached.
// Anything else, /v1/... included, is left to the API's JSON 404.
//
// index.html is sent with `Cache-Control: no-cache` so a new build is picked up at once; the
// hashed assets it names never change. Embedded files carry a gzip copy, sent to clients that
// accept gzip.
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "common/error.h"
#include "server/api_error.h"
#include "server/router.h"
#include "server/routes.h"
#include "server/ui/ui_assets.h"

namespace llmtune::server {

namespace {

const char* kHashedCache = "public, max-age=31536000, immutable";
const char* kShortCache = "public, max-age=3600";

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// One path segment a UI file may have.
bool safe_segment(const std::string& name) {
    if (name.empty() || name.front() == '.') return false;  // ".", "..", dotfiles
    for (char c : name)
        if (c == '/' || c == '\\' || c == '\0') return false;
    return true;
}

// Whether the client takes gzip: "gzip" (or "*") listed in Accept-Encoding with q above 0.
bool accepts_gzip(const httplib::Request& req) {
    std::stringstream ss(req.get_header_value("Accept-Encoding"));
    std::string item;
    while (std::getline(ss, item, ',')) {
        std::string t;
        for (char c : item)
            if (c != ' ' && c != '\t') t += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string coding = t.substr(0, t.find(';'));
        if (coding != "gzip" && coding != "*") continue;
        size_t q = t.find(";q=");
        return q == std::string::npos || std::strtod(t.c_str() + q + 3, nullptr) > 0;
    }
    return false;
}

[[noreturn]] void not_found(const httplib::Request& req) {
    throw_http(404, "Unknown request URL: " + req.method + " " + req.path + ".", "", "unknown_url");
}

// Embedded bytes live as long as the program: sent from where they are, without a copy. A
// fixed-length content provider is also what keeps cpp-httplib from compressing the body
// itself (it would gzip our gzip copy a second time, or spend ~100 ms on brotli per request).
void send_static(RouteContext& ctx, const char* data, size_t size, const std::string& type) {
    ctx.res.set_content_provider(
        size, type, [data, size](size_t offset, size_t length, httplib::DataSink& sink) {
            if (offset >= size) return false;
            return sink.write(data + offset, std::min(length, size - offset));
        });
}

void send_embedded(RouteContext& ctx, const std::string& rel, const UiAsset& a,
                   const std::string& cache) {
    ctx.res.status = 200;
    ctx.res.set_header("Cache-Control", cache);
    ctx.res.set_header("X-Content-Type-Options", "nosniff");
    std::string type = ui_content_type(rel);
    if (a.gzip) {
        ctx.res.set_header("Vary", "Accept-Encoding");
        if (accepts_gzip(ctx.req)) {
            ctx.res.set_header("Content-Encoding", "gzip");
            send_static(ctx, a.gzip, a.gzip_size, type);
            return;
        }
    }
    send_static(ctx, a.data, a.size, type);
}

class UiFiles {
  public:
    explicit UiFiles(std::string dir) : dir_(std::move(dir)) {
        if (dir_.empty()) {
            table_ = embedded_ui_assets();
        } else {
            char buf[PATH_MAX];
            if (!::realpath(dir_.c_str(), buf))
                throw_invalid("--ui-dir " + dir_ + ": " + errno_text(errno));
            root_ = buf;
        }
    }

    // Sends `rel` ("index.html", "assets/x.js") or throws the 404.
    void serve(RouteContext& ctx, const std::string& rel) const {
        std::string cache = rel == "index.html"            ? "no-cache"
                            : rel.rfind("assets/", 0) == 0 ? kHashedCache
                                                           : kShortCache;
        if (root_.empty()) {
            if (table_.count == 0 && rel == "index.html")
                throw_http(404,
                           "This llmtune was built without the web UI (-DLLMTUNE_UI=OFF). Rebuild "
                           "with it, or serve a built UI folder with --ui-dir.",
                           "", "ui_not_built");
            const UiAsset* end = table_.items + table_.count;
            const UiAsset* a = std::lower_bound(
                table_.items, end, rel,
                [](const UiAsset& x, const std::string& p) { return std::strcmp(x.path, p.c_str()) < 0; });
            if (a == end || rel != a->path) not_found(ctx.req);
            send_embedded(ctx, rel, *a, cache);
            return;
        }
        // A folder: what the file resolves to (symlinks followed) must lie inside it.
        std::string path = root_ + "/" + rel;
        char buf[PATH_MAX];
        if (!::realpath(path.c_str(), buf)) not_found(ctx.req);
        std::string real = buf;
        struct stat st {};
        if (real.compare(0, root_.size() + 1, root_ + "/") != 0 || ::stat(buf, &st) != 0 ||
            !S_ISREG(st.st_mode))
            not_found(ctx.req);
        std::ifstream in(real, std::ios::binary);
        std::ostringstream body;
        body << in.rdbuf();
        if (!in) throw_io(real + ": cannot read the UI file");
        // Files being worked on change at any time: never cached. cpp-httplib may compress them.
        ctx.res.status = 200;
        ctx.res.set_header("Cache-Control", "no-cache");
        ctx.res.set_header("X-Content-Type-Options", "nosniff");
        ctx.res.set_content(body.str(), ui_content_type(rel));
    }

  private:
    std::string dir_, root_;
    UiAssetTable table_{nullptr, 0};
};

}  // namespace

std::string ui_content_type(const std::string& path) {
    static const std::pair<const char*, const char*> types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".map", "application/json"},
        {".webmanifest", "application/manifest+json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".gif", "image/gif"},
        {".webp", "image/webp"},
        {".ico", "image/x-icon"},
        {".woff2", "font/woff2"},
        {".woff", "font/woff"},
        {".ttf", "font/ttf"},
        {".wasm", "application/wasm"},
        {".txt", "text/plain; charset=utf-8"},
    };
    for (const auto& [ext, type] : types)
        if (ends_with(path, ext)) return type;
    return "application/octet-stream";
}

void register_ui_routes(Router& router, const std::string& ui_dir) {
    auto files = std::make_shared<UiFiles>(ui_dir);
    router.get("/", Access::open, [files](RouteContext& ctx) { files->serve(ctx, "index.html"); });
    router.get("/assets/{name}", Access::open, [files](RouteContext& ctx) {
        std::string name = ctx.param(1);
        if (!safe_segment(name)) not_found(ctx.req);
        files->serve(ctx, "assets/" + name);
    });
    // Registered after every API route, so /healthz and /metrics keep theirs.
    router.get("/{name}", Access::open, [files](RouteContext& ctx) {
        std::string name = ctx.param(1);
        if (!safe_segment(name)) not_found(ctx.req);
        files->serve(ctx, name);
    });
}

}  // namespace llmtune::server
