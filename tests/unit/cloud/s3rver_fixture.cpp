#include "unit/cloud/s3rver_fixture.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <thread>

namespace llmtune::test {

S3rverProcess::S3rverProcess(std::string dir, std::string bucket, int port)
    : dir_(std::move(dir)), bucket_(std::move(bucket)), port_(port) {
    start();
}

S3rverProcess::~S3rverProcess() {
    kill();
}

void S3rverProcess::start() {
    int in[2], out[2];
    if (::pipe(in) != 0 || ::pipe(out) != 0) throw std::runtime_error("pipe failed");
    std::string script = std::string(LLMTUNE_SOURCE_DIR) + "/tests/reference/s3rver.mjs";
    std::string port = std::to_string(port_);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        ::dup2(in[0], 0);
        ::dup2(out[1], 1);
        ::close(in[1]);
        ::close(out[0]);
        // s3rver's continuation tokens use DES, which OpenSSL 3 keeps in its legacy provider.
        ::execlp("node", "node", "--openssl-legacy-provider", script.c_str(), "--dir", dir_.c_str(),
                 "--port", port.c_str(), "--bucket", bucket_.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    stdin_fd_ = in[1];
    // Read "READY <port>\n".
    std::string line;
    char c;
    while (::read(out[0], &c, 1) == 1 && c != '\n')
        line += c;
    ::close(out[0]);
    if (line.rfind("READY ", 0) != 0) {
        kill();
        throw std::runtime_error("s3rver did not start (run `npm ci` in the source tree): '" +
                                 line + "'");
    }
    port_ = std::stoi(line.substr(6));
}

void S3rverProcess::kill() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        int st = 0;
        ::waitpid(pid_, &st, 0);
        pid_ = -1;
    }
    if (stdin_fd_ >= 0) {
        ::close(stdin_fd_);
        stdin_fd_ = -1;
    }
}

void S3rverProcess::restart() {
    kill();
    start();
}

cloud::S3Config S3rverProcess::config() const {
    cloud::S3Config c;
    c.endpoint = endpoint();
    c.region = "us-east-1";
    c.path_style = true;
    c.credentials = {"S3RVER", "S3RVER", "", "test"};
    c.http.retry.max_attempts = 3;
    c.http.retry.base_delay_s = 0.05;
    c.http.retry.max_delay_s = 0.2;
    c.http.connect_timeout_s = 5;
    c.http.low_speed_time_s = 10;
    return c;
}

}  // namespace llmtune::test
