// Object ids and secrets, drawn from OpenSSL's CSPRNG.
//
// Ids follow OpenAI's style, a type prefix and random base62 characters: file-..., ftjob-...,
// proj_..., key_... The prefix tells a reader what an id names; the randomness makes ids
// unguessable across projects.
#pragma once

#include <cstdint>
#include <string>

namespace llmtune::service {

// `prefix` followed by `n` random base62 characters, e.g. new_id("file-") = "file-3fQ...".
std::string new_id(const std::string& prefix, size_t n = 24);

// A new API key: "sk-llmtune-" and 40 random base62 characters (about 238 bits).
std::string new_api_key();

// "sk-llmtune-abcd...wxyz": the key with all but its first and last four characters hidden,
// for listings.
std::string redact_api_key(const std::string& key);

// Seconds since the Unix epoch (OpenAI's created_at).
int64_t unix_now();

}  // namespace llmtune::service
