// s3rver (npm) as a child process on loopback, for the S3 client and S3 blob store tests.
// tests/reference/s3rver.mjs starts it; the child's stdin is a pipe held by this object, so
// the server exits with the test even when the test crashes.
#pragma once

#include <sys/types.h>

#include <string>

#include "cloud/s3_client.h"

namespace llmtune::test {

class S3rverProcess {
  public:
    // Starts s3rver serving `dir` with the bucket `bucket` on `port` (0: a free one).
    S3rverProcess(std::string dir, std::string bucket, int port = 0);
    ~S3rverProcess();  // kill()

    int port() const { return port_; }
    std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
    // SIGKILL and wait: the server goes away at once, mid-transfer if one is running.
    void kill();
    // Starts it again on the same port and directory.
    void restart();

    // An S3 config for this server: path-style, its credentials (S3RVER/S3RVER), fast retries.
    cloud::S3Config config() const;

  private:
    void start();
    std::string dir_, bucket_;
    int port_ = 0;
    pid_t pid_ = -1;
    int stdin_fd_ = -1;
};

}  // namespace llmtune::test
