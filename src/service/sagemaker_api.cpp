#include "service/sagemaker_api.h"

#include "cloud/sigv4.h"

namespace llmtune::service {

SageMakerApi::SageMakerApi(SageMakerApiConfig config)
    : config_(std::move(config)),
      endpoint_(config_.endpoint.empty()
                    ? "https://api.sagemaker." + config_.region + ".amazonaws.com/"
                    : config_.endpoint),
      http_(config_.http) {
    if (endpoint_.back() != '/') endpoint_ += '/';
}

SageMakerHttpRequest SageMakerApi::build(const std::string& operation,
                                         const ordered_json& body) const {
    SageMakerHttpRequest r;
    r.url = endpoint_;
    r.body = body.dump();
    // The AWS SDKs sign content-length too; it is sent as given here.
    r.headers = {{"content-type", "application/x-amz-json-1.1"},
                 {"x-amz-target", "SageMaker." + operation},
                 {"content-length", std::to_string(r.body.size())}};
    return r;
}

SageMakerError sagemaker_error(const std::string& operation, long status,
                               const std::string& error_type_header, const std::string& body) {
    std::string code = error_type_header, message;
    auto j = ordered_json::parse(body, nullptr, false);
    if (j.is_object()) {
        if (code.empty()) code = j.value("__type", j.value("code", std::string()));
        message = j.value("message", j.value("Message", std::string()));
    } else if (!body.empty()) {
        message = body.substr(0, 300);
    }
    // "ValidationException:http://internal.amazon.com/..." and "namespace#Code" forms.
    if (auto colon = code.find(':'); colon != std::string::npos) code.resize(colon);
    if (auto hash = code.rfind('#'); hash != std::string::npos) code = code.substr(hash + 1);
    ErrorKind kind = ErrorKind::io;
    std::string hint;
    if (code == "AccessDeniedException" || code == "UnrecognizedClientException" ||
        code == "InvalidSignatureException" || code == "ExpiredTokenException" ||
        code == "IncompleteSignature" || status == 403) {
        kind = ErrorKind::unauthorized;
        hint = "the credentials llmtune signs with need sagemaker:" + operation +
               " (and iam:PassRole on the job's role for CreateTrainingJob); see docs/sagemaker.md";
    } else if (code == "ValidationException") {
        kind = ErrorKind::invalid_input;
    } else if (code == "ResourceNotFound") {
        kind = ErrorKind::not_found;
    } else if (code == "ResourceLimitExceeded") {
        kind = ErrorKind::resource_exhausted;
        hint = "the account's SageMaker quota for this instance type (or spot capacity) is used "
               "up: request a quota increase in Service Quotas or choose another instance type";
    } else if (code == "ResourceInUse") {
        kind = ErrorKind::conflict;
    }
    return SageMakerError(kind,
                          "SageMaker " + operation + " failed with HTTP " + std::to_string(status) +
                              (code.empty() ? "" : " " + code) +
                              (message.empty() ? "" : ": " + message),
                          hint, code, status);
}

ordered_json SageMakerApi::call(const std::string& operation, const ordered_json& body) {
    const SageMakerHttpRequest built = build(operation, body);
    cloud::HttpRequest request;
    request.method = "POST";
    request.url = built.url;
    request.headers = built.headers;
    request.body = &built.body;
    const std::string payload_hash = cloud::sha256_hex(built.body);
    request.sign = [this, payload_hash](const cloud::HttpRequest& r) {
        cloud::SigV4Params p;
        p.region = config_.region;
        p.service = "sagemaker";
        p.credentials = config_.credentials;
        p.time = config_.clock ? config_.clock() : std::time(nullptr);
        p.add_content_sha256 = true;  // the AWS SDK sends x-amz-content-sha256 here too
        return cloud::sigv4_sign(cloud::SigV4Request{r.method, r.url, r.headers, payload_hash}, p)
            .headers;
    };
    cloud::HttpResponse response = http_.send(request);
    if (response.status < 200 || response.status >= 300)
        throw sagemaker_error(operation, response.status, response.header("x-amzn-errortype"),
                              response.body);
    if (response.body.empty()) return ordered_json::object();
    auto j = ordered_json::parse(response.body, nullptr, false);
    if (j.is_discarded())
        throw Error(ErrorKind::io, "SageMaker " + operation + ": the answer is not JSON: " +
                                       response.body.substr(0, 200));
    return j;
}

}  // namespace llmtune::service
