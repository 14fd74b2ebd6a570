// A small HTTP client over libcurl for the AWS APIs (S3, SageMaker): one request at a time
// per client object, streamed bodies, timeouts, and retries with exponential backoff.
//
// Retries: a request is sent again, after base_delay * 2^attempt (capped at max_delay) scaled
// by a random factor in [0.5, 1] ("equal jitter"), when
//   - the transfer failed (connection refused or reset, timeout, a body cut short), or
//   - the status is 5xx or 429, or
//   - the error body names a throttling or timeout code (S3's XML <Code>, the JSON APIs'
//     "__type"/"code"): SlowDown, Throttling, ThrottlingException, ThrottledException,
//     RequestThrottled, RequestThrottledException, TooManyRequestsException,
//     ProvisionedThroughputExceededException, RequestLimitExceeded, RequestTimeout,
//     RequestTimeoutException, InternalError, ServiceUnavailable.
// Before every attempt the body is rewound and the sink reset, and `sign` (when set) is called
// again, so a retried request carries a fresh date and signature. After the last attempt a
// transfer failure is an `io` Error naming the method, URL, curl's message and the attempts;
// an HTTP error status is returned to the caller, who knows how to read its body.
//
// Threads: an HttpClient holds a curl handle; use one per thread (they are cheap).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cloud/sigv4.h"

namespace llmtune::cloud {

// A request body read in pieces. `read` fills up to n bytes and returns how many (0 only at
// the end); `rewind` starts it over (a retry sends it again). `size` is exact: it is sent as
// Content-Length.
struct HttpBody {
    uint64_t size = 0;
    std::function<size_t(char* buf, size_t n)> read;
    std::function<void()> rewind;
};

// An HttpBody over bytes held in memory (the string must outlive the request).
HttpBody string_body(const std::string& data);

struct HttpRequest {
    std::string method = "GET";
    std::string url;  // percent-encoded as sent
    HttpHeaders headers;
    const std::string* body = nullptr;  // a body in memory, or:
    HttpBody stream;                    // a streamed body (used when `body` is null and
                                        // stream.read is set)
    // Receives the body of a 2xx response as it arrives; return false to abort (io Error).
    // Without a sink the body is collected into HttpResponse::body. Error bodies (non-2xx)
    // always go to HttpResponse::body.
    std::function<bool(const char* data, size_t n)> sink;
    std::function<void()> sink_reset;  // called before a retry when a sink got bytes
    // Called before each attempt; the headers it returns are added (SigV4).
    std::function<HttpHeaders(const HttpRequest&)> sign;
};

struct HttpResponse {
    long status = 0;
    HttpHeaders headers;  // names lowercased, in arrival order
    std::string body;     // see HttpRequest::sink
    int attempts = 0;     // how many times the request was sent

    // The first header of that (lowercase) name, or "".
    std::string header(const std::string& name) const;
};

struct RetryPolicy {
    int max_attempts = 5;  // 1 = no retry
    double base_delay_s = 0.25;
    double max_delay_s = 20.0;
};

struct HttpClientOptions {
    long connect_timeout_s = 10;
    // A transfer slower than low_speed_bytes per second for low_speed_time_s is cut (and
    // retried): large uploads have no total timeout, stalls do.
    long low_speed_bytes = 1;
    long low_speed_time_s = 60;
    long total_timeout_s = 0;  // 0 = none
    RetryPolicy retry;
    bool verbose = false;  // curl's trace on stderr
    // Called after every attempt that got an HTTP answer (logging, metrics, tests).
    std::function<void(const HttpRequest&, const HttpResponse&)> on_response;
};

class HttpClient {
  public:
    explicit HttpClient(HttpClientOptions options = {});
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    // Sends with retries as described above. Returns the last response, whatever its status.
    HttpResponse send(const HttpRequest& request);

    const HttpClientOptions& options() const { return options_; }

  private:
    struct Impl;
    HttpClientOptions options_;
    std::unique_ptr<Impl> impl_;
};

// True when a response should be retried (status, or an error code in the body).
bool is_retryable_response(long status, const std::string& body);
// The error code named by an XML (<Code>) or JSON ("__type", "code") AWS error body, or "".
std::string aws_error_code(const std::string& body);

}  // namespace llmtune::cloud
