// API keys and projects: `Authorization: Bearer <key>` resolves to a Principal, the project
// every object it touches must belong to.
//
// Keys are stored as their SHA-256 only; the plaintext is shown once, when the key is created.
// At first start a "default" project and an admin key are created and the key is written to
// <data-dir>/admin.key (mode 0600). The admin key may manage projects and keys.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "service/metadata_store.h"

namespace llmtune::service {

struct Principal {
    std::string project_id;
    std::string key_id;
    bool admin = false;
};

struct CreatedKey {
    ApiKeyRecord record;
    std::string key;  // the plaintext, shown once
};

struct AdminKeyBootstrap {
    bool created = false;  // true when this start created the key
    std::string key;       // the admin key (read back from admin.key when it already existed)
    std::string key_path;  // <data-dir>/admin.key
    std::string project_id;
};

class Auth {
  public:
    explicit Auth(MetadataStore& store) : store_(store) {}

    // The principal for an Authorization header value; unauthorized when the header is
    // missing, not "Bearer <key>", or the key is unknown or revoked.
    Principal authenticate(const std::string& authorization) const;

    // Makes sure an admin key exists and admin.key holds it. When admin.key is missing or
    // holds a key the database does not know (a copied or edited file), a new admin key is
    // created; the old one stays valid until revoked.
    AdminKeyBootstrap ensure_admin_key(const std::string& data_dir);

    Project create_project(const std::string& name);
    // not_found when the project does not exist.
    CreatedKey create_key(const std::string& project_id, const std::string& name,
                          bool admin = false);
    std::vector<ApiKeyRecord> list_keys(const std::string& project_id) const;
    // not_found when the key is not an active key of that project.
    void revoke_key(const std::string& project_id, const std::string& key_id);

  private:
    MetadataStore& store_;
};

// Throws unauthorized unless the principal holds an admin key.
void require_admin(const Principal& p);

}  // namespace llmtune::service
