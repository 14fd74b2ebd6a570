#include "service/sha256.h"

#include <openssl/evp.h>

#include "common/error.h"
#include "common/hex.h"

namespace llmtune::service {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1)
        throw Error(ErrorKind::internal, "OpenSSL: cannot initialise SHA-256");
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::update(const void* data, size_t n) {
    if (n == 0) return;
    if (EVP_DigestUpdate(ctx_, data, n) != 1)
        throw Error(ErrorKind::internal, "OpenSSL: SHA-256 update failed");
}

std::string Sha256::hex_digest() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx_, md, &len) != 1)
        throw Error(ErrorKind::internal, "OpenSSL: SHA-256 final failed");
    return hex_lower(md, len);
}

std::string sha256_hex(std::string_view data) {
    Sha256 h;
    h.update(data.data(), data.size());
    return h.hex_digest();
}

bool is_sha256_hex(std::string_view s) {
    if (s.size() != 64) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

}  // namespace llmtune::service
