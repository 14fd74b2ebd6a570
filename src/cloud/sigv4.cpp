#include "cloud/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "common/error.h"
#include "common/hex.h"

namespace llmtune::cloud {

namespace {

const char kHexUpper[] = "0123456789ABCDEF";

std::string lower(std::string s) {
    for (char& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// Trims both ends and turns each inner run of whitespace into one space.
std::string canonical_header_value(const std::string& v) {
    std::string out;
    bool pending_space = false;
    for (char c : v) {
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            pending_space = !out.empty();
            continue;
        }
        if (pending_space) out += ' ';
        pending_space = false;
        out += c;
    }
    return out;
}

// Headers a proxy or the HTTP stack may change; signing them would break the signature.
bool unsignable(const std::string& name) {
    static const char* const names[] = {
        "authorization", "cache-control",     "connection", "expect",     "from",
        "keep-alive",    "max-forwards",      "pragma",     "referer",    "te",
        "trailer",       "transfer-encoding", "upgrade",    "user-agent", "x-amzn-trace-id"};
    for (const char* n : names)
        if (name == n) return true;
    return name.rfind("proxy-", 0) == 0 || name.rfind("sec-", 0) == 0;
}

struct ParsedUrl {
    std::string host;   // host[:port] as the Host header carries it
    std::string path;   // encoded, "/" when empty
    std::string query;  // encoded, without '?'
};

ParsedUrl parse_url(const std::string& url) {
    size_t scheme_end = url.find("://");
    if (scheme_end == std::string::npos || scheme_end == 0)
        throw_invalid("SigV4: not an absolute URL: '" + url + "'");
    std::string scheme = lower(url.substr(0, scheme_end));
    size_t host_begin = scheme_end + 3;
    size_t host_end = url.find_first_of("/?#", host_begin);
    if (host_end == std::string::npos) host_end = url.size();
    ParsedUrl p;
    p.host = lower(url.substr(host_begin, host_end - host_begin));
    if (p.host.empty()) throw_invalid("SigV4: URL without a host: '" + url + "'");
    // The default port is not part of the Host header.
    if ((scheme == "https" && p.host.size() > 4 &&
         p.host.compare(p.host.size() - 4, 4, ":443") == 0) ||
        (scheme == "http" && p.host.size() > 3 && p.host.compare(p.host.size() - 3, 3, ":80") == 0))
        p.host.resize(p.host.rfind(':'));
    size_t rest_end = url.find('#', host_end);
    if (rest_end == std::string::npos) rest_end = url.size();
    std::string rest = url.substr(host_end, rest_end - host_end);
    size_t q = rest.find('?');
    p.path = rest.substr(0, q);
    if (q != std::string::npos) p.query = rest.substr(q + 1);
    if (p.path.empty()) p.path = "/";
    return p;
}

// RFC 3986 dot-segment removal plus dropping empty segments, on the encoded path.
std::string normalize_path(const std::string& path) {
    std::vector<std::string> segments;
    size_t i = 0;
    while (i <= path.size()) {
        size_t j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        std::string seg = path.substr(i, j - i);
        if (seg == "..") {
            if (!segments.empty()) segments.pop_back();
        } else if (!seg.empty() && seg != ".") {
            segments.push_back(seg);
        }
        i = j + 1;
    }
    std::string out = "/";
    for (size_t k = 0; k < segments.size(); ++k)
        out += (k ? "/" : "") + segments[k];
    if (!segments.empty() && path.size() > 1 && path.back() == '/') out += '/';
    return out;
}

std::string canonical_uri(const std::string& wire_path, bool s3) {
    if (s3) {
        // Decode what the caller encoded and encode it again with AWS's rules: equal to the
        // wire path when that was encoded correctly, and never encoded twice.
        return uri_encode(uri_decode(wire_path), true);
    }
    return uri_encode(normalize_path(wire_path), true);
}

std::string canonical_query(const std::string& query) {
    std::vector<std::pair<std::string, std::string>> params;
    size_t i = 0;
    while (i < query.size()) {
        size_t j = query.find('&', i);
        if (j == std::string::npos) j = query.size();
        std::string item = query.substr(i, j - i);
        if (!item.empty()) {
            size_t eq = item.find('=');
            std::string k = item.substr(0, eq);
            std::string v = eq == std::string::npos ? "" : item.substr(eq + 1);
            params.emplace_back(uri_encode(uri_decode(k), false), uri_encode(uri_decode(v), false));
        }
        i = j + 1;
    }
    std::sort(params.begin(), params.end());
    std::string out;
    for (const auto& [k, v] : params) {
        if (!out.empty()) out += '&';
        out += k + "=" + v;
    }
    return out;
}

std::string date_stamp(std::time_t t) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[16];
    std::strftime(buf, sizeof buf, "%Y%m%d", &tm);
    return buf;
}

}  // namespace

std::string uri_encode(const std::string& text, bool keep_slash) {
    std::string out;
    out.reserve(text.size());
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
            (keep_slash && c == '/')) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHexUpper[c >> 4];
            out += kHexUpper[c & 15];
        }
    }
    return out;
}

std::string uri_decode(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    auto hexval = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out += text[i];
            continue;
        }
        int hi = i + 2 < text.size() ? hexval(text[i + 1]) : -1;
        int lo = i + 2 < text.size() ? hexval(text[i + 2]) : -1;
        if (hi < 0 || lo < 0)
            throw_invalid("malformed percent-escape in '" + text + "' at byte " +
                          std::to_string(i));
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

std::string sha256_hex(const std::string& data) {
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
    return hex_lower(md, sizeof md);
}

std::string hmac_sha256(const std::string& key, const std::string& data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
              reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len))
        throw Error(ErrorKind::internal, "HMAC-SHA256 failed in OpenSSL");
    return std::string(reinterpret_cast<char*>(md), len);
}

std::string amz_date(std::time_t t) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
    return buf;
}

SigV4Result sigv4_sign(const SigV4Request& request, const SigV4Params& params) {
    if (params.region.empty()) throw_invalid("SigV4: no region to sign for", "set the AWS region");
    if (params.service.empty()) throw Error(ErrorKind::internal, "SigV4: no service name");
    if (params.credentials.access_key_id.empty() || params.credentials.secret_access_key.empty())
        throw Error(ErrorKind::unauthorized, "SigV4: no AWS access key to sign the request with",
                    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or configure a profile");
    if (request.payload_sha256.empty()) throw Error(ErrorKind::internal, "SigV4: no payload hash");
    ParsedUrl url = parse_url(request.url);
    const std::string date = amz_date(params.time);
    const std::string day = date_stamp(params.time);

    SigV4Result result;
    result.headers.emplace_back("x-amz-date", date);
    if (params.add_content_sha256)
        result.headers.emplace_back("x-amz-content-sha256", request.payload_sha256);
    if (!params.credentials.session_token.empty())
        result.headers.emplace_back("x-amz-security-token", params.credentials.session_token);

    // name -> values in order; the request's own x-amz-* values are replaced by ours.
    std::map<std::string, std::vector<std::string>> headers;
    for (const auto& [name, value] : request.headers) {
        std::string n = lower(name);
        if (unsignable(n)) continue;
        headers[n].push_back(canonical_header_value(value));
    }
    for (const auto& [name, value] : result.headers)
        headers[name] = {value};
    if (!headers.count("host")) headers["host"] = {url.host};

    std::string canonical_headers, signed_headers;
    for (const auto& [name, values] : headers) {
        std::string joined;
        for (size_t i = 0; i < values.size(); ++i)
            joined += (i ? "," : "") + values[i];
        canonical_headers += name + ":" + joined + "\n";
        signed_headers += (signed_headers.empty() ? "" : ";") + name;
    }

    result.canonical_request = request.method + "\n" +
                               canonical_uri(url.path, params.s3_uri_encoding) + "\n" +
                               canonical_query(url.query) + "\n" + canonical_headers + "\n" +
                               signed_headers + "\n" + request.payload_sha256;
    const std::string scope = day + "/" + params.region + "/" + params.service + "/aws4_request";
    result.string_to_sign =
        "AWS4-HMAC-SHA256\n" + date + "\n" + scope + "\n" + sha256_hex(result.canonical_request);
    std::string key = hmac_sha256("AWS4" + params.credentials.secret_access_key, day);
    key = hmac_sha256(key, params.region);
    key = hmac_sha256(key, params.service);
    key = hmac_sha256(key, "aws4_request");
    std::string sig = hmac_sha256(key, result.string_to_sign);
    std::string sig_hex = hex_lower(sig.data(), sig.size());
    result.signed_headers = signed_headers;
    result.headers.insert(
        result.headers.begin(),
        {"authorization", "AWS4-HMAC-SHA256 Credential=" + params.credentials.access_key_id + "/" +
                              scope + ", SignedHeaders=" + signed_headers +
                              ", Signature=" + sig_hex});
    return result;
}

}  // namespace llmtune::cloud
