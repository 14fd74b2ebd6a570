#include "service/ids.h"

#include <openssl/rand.h>

#include <chrono>
#include <vector>

#include "common/error.h"

namespace llmtune::service {

std::string new_id(const std::string& prefix, size_t n) {
    static const char alphabet[] =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    std::string out = prefix;
    out.reserve(prefix.size() + n);
    std::vector<unsigned char> bytes(n * 2);
    while (out.size() < prefix.size() + n) {
        if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
            throw Error(ErrorKind::internal, "OpenSSL: RAND_bytes failed");
        for (unsigned char b : bytes) {
            if (b >= 248) continue;  // 248 = 4 * 62: rejecting the rest keeps the draw uniform
            out.push_back(alphabet[b % 62]);
            if (out.size() == prefix.size() + n) break;
        }
    }
    return out;
}

std::string new_api_key() { return new_id("sk-llmtune-", 40); }

std::string redact_api_key(const std::string& key) {
    const std::string prefix = "sk-llmtune-";
    size_t keep = key.rfind(prefix, 0) == 0 ? prefix.size() + 4 : 4;
    if (key.size() <= keep + 4) return std::string(key.size(), '*');
    return key.substr(0, keep) + "..." + key.substr(key.size() - 4);
}

int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace llmtune::service
