// A client for SageMaker's JSON API (awsJson1_1): POST to https://api.sagemaker.<region>.
// amazonaws.com/ with X-Amz-Target: SageMaker.<Operation>, Content-Type
// application/x-amz-json-1.1 and a SigV4 signature for the service "sagemaker". The endpoint
// and the clock can be replaced (tests, VPC endpoints). Throttling and 5xx answers are retried
// by cloud::HttpClient; other errors become a SageMakerError with AWS's error code.
//
// Threads: one SageMakerApi per thread (it owns an HttpClient).
#pragma once

#include <ctime>
#include <functional>
#include <string>

#include "cloud/aws_credentials.h"
#include "cloud/http_client.h"
#include "common/error.h"
#include "common/json_file.h"

namespace llmtune::service {

struct SageMakerApiConfig {
    std::string region;
    std::string endpoint;  // "" = https://api.sagemaker.<region>.amazonaws.com
    cloud::AwsCredentials credentials;
    cloud::HttpClientOptions http;
    std::function<std::time_t()> clock;  // the signing time; empty = now
};

class SageMakerError : public Error {
  public:
    SageMakerError(ErrorKind kind, std::string message, std::string hint, std::string code,
                   long status)
        : Error(kind, std::move(message), std::move(hint)), code_(std::move(code)), status_(status) {}
    const std::string& code() const { return code_; }  // "ValidationException", ...
    long status() const { return status_; }

  private:
    std::string code_;
    long status_;
};

// The request as it goes on the wire (before signing), for tests and `llmtune sagemaker request`.
struct SageMakerHttpRequest {
    std::string url;
    cloud::HttpHeaders headers;  // content-type, x-amz-target, content-length
    std::string body;
};

class SageMakerApi {
  public:
    explicit SageMakerApi(SageMakerApiConfig config);

    // Calls "SageMaker.<operation>" with `body`; returns the parsed answer.
    ordered_json call(const std::string& operation, const ordered_json& body);

    SageMakerHttpRequest build(const std::string& operation, const ordered_json& body) const;
    const std::string& endpoint() const { return endpoint_; }

  private:
    SageMakerApiConfig config_;
    std::string endpoint_;
    cloud::HttpClient http_;
};

// Maps an error answer to a SageMakerError (code from x-amzn-errortype or the body's __type,
// message from message/Message).
SageMakerError sagemaker_error(const std::string& operation, long status,
                               const std::string& error_type_header, const std::string& body);

}  // namespace llmtune::service
