#include "service/auth.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include "common/atomic_file.h"
#include "common/error.h"
#include "service/ids.h"
#include "service/service_error.h"
#include "service/sha256.h"

namespace llmtune::service {

namespace {

[[noreturn]] void unauthorized(const std::string& message, const std::string& code) {
    throw ServiceError(ErrorKind::unauthorized, message, "", code,
                       "pass a key as 'Authorization: Bearer <key>'");
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '))
        s.pop_back();
    size_t i = 0;
    while (i < s.size() && s[i] == ' ') ++i;
    return s.substr(i);
}

// Writes the key readable by its owner only: created 0600 before any byte is written, then
// renamed into place, so it is never visible with wider permissions.
void write_key_file(const std::string& path, const std::string& key) {
    std::string tmp = path + ".tmp." + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw_io(tmp + ": cannot create: " + errno_text(errno));
    ::fchmod(fd, 0600);  // in case the file existed with other bits
    std::string text = key + "\n";
    bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
              ::fsync(fd) == 0;
    int err = errno;
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
        if (ok) err = errno;
        ::unlink(tmp.c_str());
        throw_io(path + ": cannot write the admin key: " + errno_text(err));
    }
}

}  // namespace

Principal Auth::authenticate(const std::string& authorization) const {
    if (authorization.empty())
        unauthorized(
            "You didn't provide an API key. You need to provide your API key in an Authorization "
            "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            "missing_api_key");
    const std::string bearer = "Bearer ";
    if (authorization.size() <= bearer.size() ||
        authorization.compare(0, bearer.size(), bearer) != 0)
        unauthorized("The Authorization header must be 'Bearer <key>'.", "invalid_api_key");
    std::string key = trim(authorization.substr(bearer.size()));
    auto rec = store_.find_active_key(sha256_hex(key));
    if (!rec)
        unauthorized("Incorrect API key provided: " + redact_api_key(key) + ".",
                     "invalid_api_key");
    return Principal{rec->project_id, rec->id, rec->admin};
}

AdminKeyBootstrap Auth::ensure_admin_key(const std::string& data_dir) {
    AdminKeyBootstrap out;
    out.key_path = data_dir + "/admin.key";
    std::ifstream in(out.key_path);
    if (in) {
        std::string key;
        std::getline(in, key);
        key = trim(key);
        auto rec = key.empty() ? std::nullopt : store_.find_active_key(sha256_hex(key));
        if (rec && rec->admin) {
            out.key = key;
            out.project_id = rec->project_id;
            return out;
        }
    }
    // The admin key goes into the oldest project ("default", created now on first start).
    std::string key = new_api_key();
    ApiKeyRecord rec;
    rec.id = new_id("key_");
    rec.name = "admin";
    rec.key_hash = sha256_hex(key);
    rec.redacted = redact_api_key(key);
    rec.admin = true;
    rec.created_at = unix_now();
    auto projects = store_.list_projects();
    if (projects.empty()) {
        Project p{new_id("proj_"), "default", rec.created_at};
        rec.project_id = p.id;
        store_.create_project_with_key(p, rec);
    } else {
        rec.project_id = projects.front().id;
        store_.create_api_key(rec);
    }
    write_key_file(out.key_path, key);
    out.created = true;
    out.key = key;
    out.project_id = rec.project_id;
    return out;
}

Project Auth::create_project(const std::string& name) {
    if (name.empty() || name.size() > 200)
        throw_invalid_param("name", "A project name must be 1 to 200 characters long.");
    Project p{new_id("proj_"), name, unix_now()};
    store_.create_project(p);
    return p;
}

CreatedKey Auth::create_key(const std::string& project_id, const std::string& name, bool admin) {
    if (name.size() > 200)
        throw_invalid_param("name", "A key name must be at most 200 characters long.");
    CreatedKey out;
    out.key = new_api_key();
    out.record.id = new_id("key_");
    out.record.project_id = project_id;
    out.record.name = name;
    out.record.key_hash = sha256_hex(out.key);
    out.record.redacted = redact_api_key(out.key);
    out.record.admin = admin;
    out.record.created_at = unix_now();
    store_.create_api_key(out.record);  // not_found for an unknown project
    return out;
}

std::vector<ApiKeyRecord> Auth::list_keys(const std::string& project_id) const {
    if (!store_.get_project(project_id)) throw_no_such("Project", project_id, "project_id");
    return store_.list_api_keys(project_id);
}

void Auth::revoke_key(const std::string& project_id, const std::string& key_id) {
    if (!store_.revoke_api_key(project_id, key_id, unix_now()))
        throw_no_such("ApiKey", key_id, "key_id");
}

void require_admin(const Principal& p) {
    if (!p.admin)
        throw ServiceError(ErrorKind::unauthorized,
                           "You have insufficient permissions for this operation: it needs the "
                           "admin key.",
                           "", "insufficient_permissions");
}

}  // namespace llmtune::service
