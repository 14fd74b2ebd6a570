// The Files API (OpenAI shapes): upload, list, retrieve, content, delete.
#include <fcntl.h>
#include <unistd.h>

#include <memory>

#include "common/error.h"
#include "server/api_error.h"
#include "server/router.h"
#include "server/routes.h"
#include "service/service.h"

namespace llmtune::server {

namespace {

using service::FileRecord;

ordered_json file_json(const FileRecord& f, bool with_report) {
    ordered_json j;
    j["id"] = f.id;
    j["object"] = "file";
    j["bytes"] = f.bytes;
    j["created_at"] = f.created_at;
    j["expires_at"] = nullptr;
    j["filename"] = f.filename;
    j["purpose"] = f.purpose;
    j["status"] = f.status;
    j["status_details"] =
        f.status_details.empty() ? ordered_json(nullptr) : ordered_json(f.status_details);
    ordered_json ext;
    if (f.status == service::kFileProcessed)
        ext["canonical"] = {{"sha256", f.canonical_sha256},
                            {"bytes", f.canonical_bytes},
                            {"records", f.canonical_records}};
    else
        ext["canonical"] = nullptr;
    ext["sha256"] = f.blob_sha256;
    if (with_report)
        ext["report"] = f.report_json.empty() ? ordered_json(nullptr)
                                              : ordered_json::parse(f.report_json, nullptr, false);
    j["llmtune"] = ext;
    return j;
}

service::ListQuery list_query(const RouteContext& ctx, int64_t max_limit) {
    service::ListQuery q;
    q.limit = ctx.limit_query(max_limit, max_limit);
    q.after = ctx.query("after");
    std::string order = ctx.has_query("order") ? ctx.query("order") : "desc";
    if (order != "asc" && order != "desc")
        throw_http(400, "Invalid 'order': '" + order + "'. Expected 'asc' or 'desc'.", "order",
                   "invalid_value");
    q.ascending = order == "asc";
    q.purpose = ctx.query("purpose");
    return q;
}

// Streams the multipart body: the `file` part goes straight into a blob (hashed as it is
// written), the `purpose` field into a small string. Nothing is held in memory.
void upload(RouteContext& ctx, service::FileService& files, uint64_t max_bytes) {
    if (!ctx.req.is_multipart_form_data())
        throw_http(400,
                   "Uploads must be multipart/form-data with a 'file' part and a 'purpose' field.",
                   "file", "invalid_multipart");
    if (!ctx.reader) throw_http(400, "Missing required parameter: 'file'.", "file");

    std::string part;  // name of the part being received
    std::string purpose, filename;
    int file_parts = 0;
    bool oversize = false, bad_name = false, long_field = false;
    std::unique_ptr<service::BlobWriter> writer;
    uint64_t received = 0;

    ctx.body_touched = true;
    bool ok = (*ctx.reader)(
        [&](const httplib::MultipartFormData& header) {
            part = header.name;
            if (part == "file") {
                ++file_parts;
                if (file_parts == 1) {
                    filename = header.filename;
                    try {
                        service::FileService::check_filename(filename);
                        writer = files.begin_upload();
                    } catch (const Error&) {
                        bad_name = true;  // reported once the body is drained
                    }
                }
            } else if (part == "purpose") {
                purpose.clear();
            }
            return true;
        },
        [&](const char* data, size_t n) {
            if (part == "file") {
                if (file_parts != 1 || !writer) return true;
                received += n;
                if (received > max_bytes) {
                    oversize = true;
                    writer.reset();  // drop what was written; keep draining the body
                    return true;
                }
                writer->write(data, n);
            } else if (part == "purpose") {
                if (purpose.size() + n > 256)
                    long_field = true;
                else
                    purpose.append(data, n);
            }
            return true;
        });
    if (!ok) {
        if (ctx.res.status == 413)
            throw_http(413, "The request body is larger than the upload limit.", "file",
                       "file_too_large");
        throw_http(400, "The multipart/form-data body is malformed (boundary or part headers).",
                   "file", "invalid_multipart");
    }
    ctx.body_consumed = true;
    if (file_parts == 0)
        throw_http(400, "Missing required parameter: 'file'.", "file",
                   "missing_required_parameter");
    if (file_parts > 1) throw_http(400, "Only one 'file' part may be uploaded.", "file");
    if (oversize)
        throw_http(413,
                   "The file is larger than this server's upload limit of " +
                       std::to_string(max_bytes) + " bytes (max_upload_bytes).",
                   "file", "file_too_large");
    if (long_field) throw_http(400, "Invalid value for 'purpose': too long.", "purpose");
    service::FileService::check_purpose(purpose);
    service::FileService::check_filename(filename);
    if (bad_name || !writer) throw_http(400, "Invalid file.", "file");
    FileRecord f = files.create(ctx.principal, filename, purpose, *writer);
    ctx.send_json(file_json(f, false));
}

void send_content(RouteContext& ctx, service::FileService& files) {
    std::string variant = ctx.has_query("llmtune_content") ? ctx.query("llmtune_content") : "original";
    if (variant != "original" && variant != "canonical")
        throw_http(400, "Invalid 'llmtune_content': '" + variant +
                            "'. Expected 'original' or 'canonical'.",
                   "llmtune_content", "invalid_value");
    FileRecord f = files.get(ctx.principal, ctx.param(1));
    std::string path = files.content_path(ctx.principal, f.id, variant == "canonical");
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_io("the stored content of " + f.id + " cannot be opened: " + errno_text(errno));
    off_t size = ::lseek(fd, 0, SEEK_END);
    auto shared_fd = std::shared_ptr<int>(new int(fd), [](int* p) {
        ::close(*p);
        delete p;
    });
    std::string name = variant == "canonical" ? f.id + ".jsonl" : f.filename;
    std::string quoted;
    for (char c : name) quoted += (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) ? '_' : c;
    ctx.res.set_header("Content-Disposition", "attachment; filename=\"" + quoted + "\"");
    ctx.res.set_content_provider(
        static_cast<size_t>(size),
        variant == "canonical" ? "application/jsonl" : "application/octet-stream",
        [shared_fd](size_t offset, size_t length, httplib::DataSink& sink) {
            char buf[1 << 16];
            size_t want = std::min(length, sizeof buf);
            ssize_t n = ::pread(*shared_fd, buf, want, static_cast<off_t>(offset));
            if (n <= 0) return false;  // the file shrank: end the response early
            return sink.write(buf, static_cast<size_t>(n));
        });
}

}  // namespace

void register_file_routes(Router& router, service::Service& svc, FileRouteOptions options) {
    auto& files = svc.files();
    router.post("/v1/files", Access::key, [&files, options](RouteContext& ctx) {
        upload(ctx, files, options.max_upload_bytes);
    });
    router.get("/v1/files", Access::key, [&files](RouteContext& ctx) {
        auto page = files.list(ctx.principal, list_query(ctx, 10000));
        ordered_json data = ordered_json::array();
        for (const auto& f : page.items) data.push_back(file_json(f, false));
        ordered_json out;
        out["object"] = "list";
        out["data"] = data;
        out["first_id"] = page.items.empty() ? ordered_json(nullptr) : ordered_json(page.items.front().id);
        out["last_id"] = page.items.empty() ? ordered_json(nullptr) : ordered_json(page.items.back().id);
        out["has_more"] = page.has_more;
        ctx.send_json(out);
    });
    router.get("/v1/files/{id}", Access::key, [&files](RouteContext& ctx) {
        ctx.send_json(file_json(files.get(ctx.principal, ctx.param(1)), true));
    });
    router.get("/v1/files/{id}/content", Access::key,
               [&files](RouteContext& ctx) { send_content(ctx, files); });
    router.del("/v1/files/{id}", Access::key, [&files](RouteContext& ctx) {
        auto f = files.remove(ctx.principal, ctx.param(1));
        ctx.send_json({{"id", f.id}, {"object", "file"}, {"deleted", true}});
    });
}

}  // namespace llmtune::server
