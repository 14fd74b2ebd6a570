// AWS Signature Version 4 for request headers, written from AWS's public documentation
// ("Create a signed AWS API request"). A pure function: the time is an argument, so tests
// compare its output with the AWS SDK for JavaScript's signer for a fixed time.
//
// The canonical request is:
//   METHOD \n canonical URI \n canonical query \n canonical headers \n signed headers \n payload
//   hash
// - URI: each path segment percent-encoded with AWS's rules (unreserved A-Z a-z 0-9 - . _ ~
//   kept, everything else %XX uppercase, '/' kept). For S3 (`s3_uri_encoding`) the path is
//   encoded once and not normalized (keys may hold "//" or "."); for every other service the
//   path is normalized (empty, "." and ".." segments removed, as RFC 3986) and the already
//   encoded path is encoded a second time, as the documentation requires.
// - Query: every name and value decoded from the URL, then encoded with the rules above
//   ('+' is a literal plus, a space is %20), sorted by name, then value.
// - Headers: names lowercased, values trimmed with inner runs of whitespace made one space,
//   sorted by name; repeated names joined with ','. Headers that proxies may change or add
//   (authorization, user-agent, expect, connection, transfer-encoding, proxy-*, sec-*, ...)
//   are never signed.
//   `host` is taken from the URL when the request does not carry one.
// Signing key: HMAC chain "AWS4"+secret -> date -> region -> service -> "aws4_request".
#pragma once

#include <ctime>
#include <string>
#include <utility>
#include <vector>

#include "cloud/aws_credentials.h"

namespace llmtune::cloud {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// The payload hash value S3 accepts for a body that is not hashed.
inline constexpr const char* kUnsignedPayload = "UNSIGNED-PAYLOAD";
// SHA-256 of the empty string, the payload hash of a request without a body.
inline constexpr const char* kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct SigV4Request {
    std::string method;          // "GET", "PUT", "POST", ...
    std::string url;             // as sent: scheme://host[:port]/path?query, path and query
                                 // percent-encoded (see s3_uri_encode / uri_encode)
    HttpHeaders headers;         // the headers that will be sent (any case)
    std::string payload_sha256;  // lowercase hex SHA-256 of the body, or kUnsignedPayload
};

struct SigV4Params {
    std::string region;   // "us-east-1"
    std::string service;  // "s3", "sagemaker", ...
    AwsCredentials credentials;
    std::time_t time = 0;            // seconds since the epoch (UTC); injected for tests
    bool s3_uri_encoding = false;    // true for S3: path encoded once, not normalized
    bool add_content_sha256 = true;  // add x-amz-content-sha256 (S3 requires it; the SDK adds it
                                     // for every service unless told not to)
};

struct SigV4Result {
    HttpHeaders headers;            // to add to the request: authorization, x-amz-date,
                                    // x-amz-content-sha256 (when asked), x-amz-security-token
                                    // (with a session token); names lowercase
    std::string canonical_request;  // for debugging and tests
    std::string string_to_sign;
    std::string signed_headers;  // "host;x-amz-content-sha256;x-amz-date"
};

// invalid_input for a URL without scheme or host, or empty region/service/keys.
SigV4Result sigv4_sign(const SigV4Request& request, const SigV4Params& params);

// Percent-encoding with AWS's rules: unreserved characters kept, everything else %XX
// (uppercase); `keep_slash` keeps '/' (object keys in paths).
std::string uri_encode(const std::string& text, bool keep_slash);
// Decodes %XX escapes ('+' stays '+'); invalid_input for a malformed escape.
std::string uri_decode(const std::string& text);

// Helpers other AWS code needs.
std::string sha256_hex(const std::string& data);
std::string hmac_sha256(const std::string& key, const std::string& data);  // raw bytes
std::string amz_date(std::time_t t);                                       // "20150830T123600Z"

}  // namespace llmtune::cloud
