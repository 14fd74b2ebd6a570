// Lowercase hexadecimal of bytes: digests (SHA-256, MD5, HMAC) as text.
#pragma once

#include <cstddef>
#include <string>

namespace llmtune {

std::string hex_lower(const void* data, size_t n);

}  // namespace llmtune
