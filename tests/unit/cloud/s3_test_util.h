// Helpers shared by the S3 client, S3 error and S3 blob store tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>

#include "cloud/s3_client.h"

namespace llmtune::test {

// `n` bytes from a seeded generator: the same content for the same seed.
inline std::string random_bytes(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s)
        c = static_cast<char>(rng());
    return s;
}

// The S3Error `f` throws; a test failure when it throws none.
template <typename F>
cloud::S3Error expect_s3_error(F&& f) {
    try {
        f();
    } catch (const cloud::S3Error& e) {
        return e;
    }
    ADD_FAILURE() << "no S3Error thrown";
    return cloud::S3Error(ErrorKind::internal, "", "", "", 0);
}

}  // namespace llmtune::test
