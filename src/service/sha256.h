// SHA-256 through OpenSSL's EVP interface, streaming: blob names and API key hashes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace llmtune::service {

class Sha256 {
  public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;

    void update(const void* data, size_t n);
    std::string hex_digest();  // 64 lowercase hex digits; the object cannot be updated after

  private:
    EVP_MD_CTX* ctx_;
};

std::string sha256_hex(std::string_view data);

// True for a string of exactly 64 lowercase hex digits (a blob name from the outside world
// is checked with this before it becomes part of a path).
bool is_sha256_hex(std::string_view s);

}  // namespace llmtune::service
