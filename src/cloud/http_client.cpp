#include "cloud/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <mutex>
#include <random>
#include <thread>

#include "common/error.h"

namespace llmtune::cloud {

namespace {

std::string lower(std::string s) {
    for (char& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// Text between <tag> and </tag> at the first occurrence, or "".
std::string xml_tag(const std::string& body, const std::string& tag) {
    size_t b = body.find("<" + tag + ">");
    if (b == std::string::npos) return "";
    b += tag.size() + 2;
    size_t e = body.find("</" + tag + ">", b);
    return e == std::string::npos ? "" : body.substr(b, e - b);
}

// The string value of "key" in a flat JSON object, or "" (error bodies are small and flat).
std::string json_string(const std::string& body, const std::string& key) {
    size_t k = body.find("\"" + key + "\"");
    if (k == std::string::npos) return "";
    size_t colon = body.find(':', k + key.size() + 2);
    if (colon == std::string::npos) return "";
    size_t q = body.find('"', colon);
    if (q == std::string::npos) return "";
    size_t e = body.find('"', q + 1);
    return e == std::string::npos ? "" : body.substr(q + 1, e - q - 1);
}

// curl results that say the transfer itself failed in a way another try may not.
bool retryable_curl(CURLcode rc) {
    switch (rc) {
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
        case CURLE_NOT_BUILT_IN:
        case CURLE_WRITE_ERROR:  // the sink said stop
        case CURLE_READ_ERROR:   // the body source failed
        case CURLE_ABORTED_BY_CALLBACK:
        case CURLE_OUT_OF_MEMORY:
        case CURLE_BAD_FUNCTION_ARGUMENT:
        case CURLE_PEER_FAILED_VERIFICATION:
            return false;
        default:
            return true;
    }
}

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
    const HttpRequest* request = nullptr;
    HttpResponse* response = nullptr;
    size_t body_offset = 0;  // for an in-memory body
    bool sink_used = false;
    std::exception_ptr error;  // thrown by a callback; rethrown after curl returns
    bool sink_refused = false;
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::string line(data, size * n);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
        line.pop_back();
    if (line.rfind("HTTP/", 0) == 0) {
        // A new response (after a 100 Continue, or the first): start over.
        t->response->headers.clear();
        size_t sp = line.find(' ');
        t->response->status = sp == std::string::npos ? 0 : std::atol(line.c_str() + sp + 1);
        return size * n;
    }
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
        std::string value = line.substr(colon + 1);
        size_t b = value.find_first_not_of(" \t");
        value = b == std::string::npos ? "" : value.substr(b);
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
            value.pop_back();
        t->response->headers.emplace_back(lower(line.substr(0, colon)), value);
    }
    return size * n;
}

size_t on_write(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    size_t bytes = size * n;
    long status = t->response->status;
    if (t->request->sink && status >= 200 && status < 300) {
        try {
            t->sink_used = true;
            if (!t->request->sink(data, bytes)) {
                t->sink_refused = true;
                return 0;
            }
        } catch (...) {
            t->error = std::current_exception();
            return 0;
        }
        return bytes;
    }
    t->response->body.append(data, bytes);
    return bytes;
}

size_t on_read(char* buf, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    size_t want = size * n;
    const HttpRequest& r = *t->request;
    if (r.body) {
        size_t left = r.body->size() - t->body_offset;
        size_t k = std::min(left, want);
        std::memcpy(buf, r.body->data() + t->body_offset, k);
        t->body_offset += k;
        return k;
    }
    if (!r.stream.read) return 0;  // a POST or PUT without a body
    try {
        return r.stream.read(buf, want);
    } catch (...) {
        t->error = std::current_exception();
        return CURL_READFUNC_ABORT;
    }
}

}  // namespace

HttpBody string_body(const std::string& data) {
    auto offset = std::make_shared<size_t>(0);
    HttpBody b;
    b.size = data.size();
    b.read = [&data, offset](char* buf, size_t n) {
        size_t k = std::min(n, data.size() - *offset);
        std::memcpy(buf, data.data() + *offset, k);
        *offset += k;
        return k;
    };
    b.rewind = [offset] { *offset = 0; };
    return b;
}

std::string HttpResponse::header(const std::string& name) const {
    for (const auto& [n, v] : headers)
        if (n == name) return v;
    return "";
}

std::string aws_error_code(const std::string& body) {
    std::string code = xml_tag(body, "Code");
    if (!code.empty()) return code;
    code = json_string(body, "__type");
    if (code.empty()) code = json_string(body, "code");
    // JSON protocols may qualify the type: "com.amazonaws.sagemaker#ThrottlingException".
    size_t hash = code.rfind('#');
    if (hash != std::string::npos) code = code.substr(hash + 1);
    size_t colon = code.find(':');
    if (colon != std::string::npos) code = code.substr(0, colon);
    return code;
}

bool is_retryable_response(long status, const std::string& body) {
    if (status >= 500 || status == 429) return true;
    if (status < 400) return false;
    static const char* const codes[] = {"SlowDown",
                                        "Throttling",
                                        "ThrottlingException",
                                        "ThrottledException",
                                        "RequestThrottled",
                                        "RequestThrottledException",
                                        "TooManyRequestsException",
                                        "ProvisionedThroughputExceededException",
                                        "RequestLimitExceeded",
                                        "RequestTimeout",
                                        "RequestTimeoutException",
                                        "InternalError",
                                        "ServiceUnavailable"};
    std::string code = aws_error_code(body);
    for (const char* c : codes)
        if (code == c) return true;
    return false;
}

struct HttpClient::Impl {
    CURL* curl = nullptr;
    std::mt19937_64 rng{std::random_device{}()};
};

HttpClient::HttpClient(HttpClientOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>()) {
    global_init();
    impl_->curl = curl_easy_init();
    if (!impl_->curl) throw Error(ErrorKind::internal, "curl_easy_init failed");
}

HttpClient::~HttpClient() {
    if (impl_ && impl_->curl) curl_easy_cleanup(impl_->curl);
}

HttpResponse HttpClient::send(const HttpRequest& request) {
    const int max_attempts = std::max(1, options_.retry.max_attempts);
    const bool has_body = request.body != nullptr || static_cast<bool>(request.stream.read);
    const uint64_t body_size = request.body ? request.body->size() : request.stream.size;
    std::string last_failure, first_failure;
    for (int attempt = 1;; ++attempt) {
        HttpResponse response;
        response.attempts = attempt;
        Transfer t;
        t.request = &request;
        t.response = &response;
        if (!request.body && request.stream.rewind && attempt > 1) request.stream.rewind();

        CURL* c = impl_->curl;
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, options_.connect_timeout_s);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, options_.low_speed_bytes);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, options_.low_speed_time_s);
        if (options_.total_timeout_s > 0)
            curl_easy_setopt(c, CURLOPT_TIMEOUT, options_.total_timeout_s);
        curl_easy_setopt(c, CURLOPT_VERBOSE, options_.verbose ? 1L : 0L);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
        if (request.method == "HEAD") {
            curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        } else if (has_body || request.method == "PUT" || request.method == "POST") {
            // Upload mode sends exactly Content-Length bytes from on_read and adds no
            // Content-Type of its own (POSTFIELDS would add a form type).
            curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(c, CURLOPT_READDATA, &t);
            curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
                             static_cast<curl_off_t>(has_body ? body_size : 0));
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
        } else if (request.method != "GET") {
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
        }

        HttpHeaders headers = request.headers;
        if (request.sign) {
            HttpHeaders extra = request.sign(request);
            headers.insert(headers.end(), extra.begin(), extra.end());
        }
        curl_slist* list = nullptr;
        bool has_accept = false;
        for (const auto& [n, v] : headers) {
            if (lower(n) == "accept") has_accept = true;
            list = curl_slist_append(list, (n + ": " + v).c_str());
        }
        // No "Expect: 100-continue" round trip, and no Accept header curl would add itself
        // (the signed request is exactly what the caller built).
        list = curl_slist_append(list, "Expect:");
        if (!has_accept) list = curl_slist_append(list, "Accept:");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);

        CURLcode rc = curl_easy_perform(c);
        curl_slist_free_all(list);
        if (t.error) std::rethrow_exception(t.error);
        if (rc == CURLE_OK) {
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
            if (options_.on_response) options_.on_response(request, response);
            if (attempt >= max_attempts || !is_retryable_response(response.status, response.body))
                return response;
            last_failure = "HTTP " + std::to_string(response.status);
        } else {
            if (t.sink_refused)
                throw_io(request.method + " " + request.url +
                         ": the download was stopped by its receiver");
            last_failure = curl_easy_strerror(rc);
            if (!retryable_curl(rc) || attempt >= max_attempts)
                throw Error(ErrorKind::io,
                            request.method + " " + request.url + " failed: " + last_failure + " (" +
                                std::to_string(attempt) +
                                (attempt == 1 ? " attempt)"
                                 : first_failure == last_failure
                                     ? " attempts)"
                                     : " attempts; the first: " + first_failure + ")"),
                            "check that the endpoint is reachable and the network is up");
        }
        if (first_failure.empty()) first_failure = last_failure;
        if (t.sink_used && request.sink_reset) request.sink_reset();
        double delay =
            std::min(options_.retry.max_delay_s,
                     options_.retry.base_delay_s * double(1ull << std::min(attempt - 1, 20)));
        std::uniform_real_distribution<double> jitter(0.5, 1.0);
        delay *= jitter(impl_->rng);
        std::this_thread::sleep_for(std::chrono::duration<double>(delay));
    }
}

}  // namespace llmtune::cloud
