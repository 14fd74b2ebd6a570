#include "cloud/s3_client.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstring>
#include <ctime>

#include "cloud/xml_tree.h"
#include "common/hex.h"

namespace llmtune::cloud {

namespace {

std::atomic<uint64_t> g_tmp_counter{0};

std::string base64(const unsigned char* p, size_t n) {
    std::string out(4 * ((n + 2) / 3) + 1, '\0');
    int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(&out[0]), p, static_cast<int>(n));
    out.resize(static_cast<size_t>(len));
    return out;
}

// MD5 and SHA-256 of a stream, fed in pieces.
class BodyHashes {
  public:
    BodyHashes() : md5_(EVP_MD_CTX_new()), sha_(EVP_MD_CTX_new()) { reset(); }
    ~BodyHashes() {
        EVP_MD_CTX_free(md5_);
        EVP_MD_CTX_free(sha_);
    }
    BodyHashes(const BodyHashes&) = delete;
    BodyHashes& operator=(const BodyHashes&) = delete;
    void reset() {
        EVP_DigestInit_ex(md5_, EVP_md5(), nullptr);
        EVP_DigestInit_ex(sha_, EVP_sha256(), nullptr);
    }
    void update(const void* p, size_t n) {
        EVP_DigestUpdate(md5_, p, n);
        EVP_DigestUpdate(sha_, p, n);
    }
    // {md5 raw bytes, sha256 hex}
    std::pair<std::string, std::string> finish() {
        unsigned char m[EVP_MAX_MD_SIZE], s[EVP_MAX_MD_SIZE];
        unsigned int ml = 0, sl = 0;
        EVP_DigestFinal_ex(md5_, m, &ml);
        EVP_DigestFinal_ex(sha_, s, &sl);
        return {std::string(reinterpret_cast<char*>(m), ml), hex_lower(s, sl)};
    }

  private:
    EVP_MD_CTX* md5_;
    EVP_MD_CTX* sha_;
};

std::string strip_quotes(std::string s) {
    if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
    return s;
}

bool is_md5_etag(const std::string& etag) {
    if (etag.size() != 32) return false;
    for (char c : etag)
        if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
    return true;
}

std::string lower(std::string s) {
    for (char& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// The IAM action a request needs, for AccessDenied hints.
std::string iam_action(const std::string& action) {
    if (action == "HeadObject" || action == "GetObject") return "s3:GetObject";
    if (action == "ListObjectsV2") return "s3:ListBucket";
    if (action == "DeleteObject") return "s3:DeleteObject";
    if (action == "AbortMultipartUpload") return "s3:AbortMultipartUpload";
    return "s3:PutObject";  // PutObject and the multipart steps
}

// "User: arn:aws:iam::1:user/x is not authorized to perform: ..." -> the ARN.
std::string principal_from(const std::string& message) {
    size_t u = message.find("User: ");
    if (u == std::string::npos) return "";
    size_t b = u + 6;
    size_t e = message.find(" is not authorized", b);
    if (e == std::string::npos) e = message.find(' ', b);
    return message.substr(b, e == std::string::npos ? std::string::npos : e - b);
}

void pread_all(int fd, uint64_t offset, char* buf, size_t n, const std::string& path) {
    while (n > 0) {
        ssize_t r = ::pread(fd, buf, n, static_cast<off_t>(offset));
        if (r < 0) {
            if (errno == EINTR) continue;
            throw_io(path + ": read failed: " + errno_text(errno));
        }
        if (r == 0) throw_io(path + ": file shrank while it was uploaded");
        buf += r;
        n -= static_cast<size_t>(r);
        offset += static_cast<uint64_t>(r);
    }
}

}  // namespace

S3Location parse_s3_uri(const std::string& uri) {
    const std::string scheme = "s3://";
    if (uri.compare(0, scheme.size(), scheme) != 0)
        throw_invalid("'" + uri + "' is not an S3 location", "write it as s3://bucket/prefix");
    std::string rest = uri.substr(scheme.size());
    size_t slash = rest.find('/');
    S3Location loc;
    loc.bucket = rest.substr(0, slash);
    if (slash != std::string::npos) loc.prefix = rest.substr(slash + 1);
    while (!loc.prefix.empty() && loc.prefix.back() == '/')
        loc.prefix.pop_back();
    while (!loc.prefix.empty() && loc.prefix.front() == '/')
        loc.prefix.erase(0, 1);
    // S3's bucket naming rules: 3-63 characters, lowercase letters, digits, '.' and '-',
    // starting and ending with a letter or digit.
    bool ok = loc.bucket.size() >= 3 && loc.bucket.size() <= 63;
    for (char c : loc.bucket)
        if (!(std::islower(static_cast<unsigned char>(c)) ||
              std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-'))
            ok = false;
    if (ok && (!std::isalnum(static_cast<unsigned char>(loc.bucket.front())) ||
               !std::isalnum(static_cast<unsigned char>(loc.bucket.back()))))
        ok = false;
    if (!ok)
        throw_invalid("'" + uri + "': '" + loc.bucket + "' is not a valid S3 bucket name",
                      "bucket names are 3-63 lowercase letters, digits, '.' and '-'");
    return loc;
}

S3Client::S3Client(S3Config config) : config_(std::move(config)), http_(config_.http) {
    if (config_.region.empty())
        throw_invalid("S3: no region configured", "set --s3-region or AWS_REGION");
    if (config_.part_size == 0) throw_invalid("S3: the multipart part size must be positive");
    while (!config_.endpoint.empty() && config_.endpoint.back() == '/')
        config_.endpoint.pop_back();
    if (!config_.endpoint.empty() && config_.endpoint.find("://") == std::string::npos)
        throw_invalid("S3 endpoint '" + config_.endpoint + "' has no scheme",
                      "write it as http://host:port or https://host");
}

std::string S3Client::object_url(const std::string& bucket, const std::string& key,
                                 const std::string& query) const {
    std::string scheme = "https", host = "s3." + config_.region + ".amazonaws.com";
    if (!config_.endpoint.empty()) {
        size_t p = config_.endpoint.find("://");
        scheme = config_.endpoint.substr(0, p);
        host = config_.endpoint.substr(p + 3);
    }
    std::string path = key.empty() ? "" : "/" + uri_encode(key, true);
    std::string url = config_.path_style
                          ? scheme + "://" + host + "/" + bucket + path
                          : scheme + "://" + bucket + "." + host + (path.empty() ? "/" : path);
    if (!query.empty()) url += "?" + query;
    return url;
}

HttpResponse S3Client::send(HttpRequest request, const std::string& payload_sha256) {
    request.sign = [this, payload_sha256](const HttpRequest& r) {
        SigV4Params p;
        p.region = config_.region;
        p.service = "s3";
        p.credentials = config_.credentials;
        p.time = std::time(nullptr);
        p.s3_uri_encoding = true;
        return sigv4_sign(SigV4Request{r.method, r.url, r.headers, payload_sha256}, p).headers;
    };
    try {
        return http_.send(request);
    } catch (const Error& e) {
        // <bucket>.<host> of a custom endpoint often does not resolve: say what usually helps.
        if (e.kind() != ErrorKind::io || config_.endpoint.empty() || config_.path_style) throw;
        throw Error(ErrorKind::io, e.message(),
                    "S3-compatible servers (MinIO, Ceph) usually need path-style URLs: "
                    "--s3-path-style; " +
                        e.hint());
    }
}

void S3Client::throw_s3_error(const std::string& action, const std::string& bucket,
                              const std::string& key, const HttpResponse& response) const {
    std::string code, message, region, request_id;
    if (!response.body.empty() && response.body.find('<') != std::string::npos) {
        try {
            auto xml = parse_xml(response.body, "S3 error response");
            code = xml->child_text("Code");
            message = xml->child_text("Message");
            region = xml->child_text("Region");
            request_id = xml->child_text("RequestId");
        } catch (const Error&) {
        }
    }
    if (code.empty()) {
        // HEAD answers carry no body: the status says what it can.
        if (response.status == 403)
            code = "AccessDenied";
        else if (response.status == 404)
            code = key.empty() ? "NoSuchBucket" : "NoSuchKey";
        else if (response.status == 301)
            code = "PermanentRedirect";
    }
    if (region.empty()) region = response.header("x-amz-bucket-region");
    const std::string where = "s3://" + bucket + (key.empty() ? "" : "/" + key);
    if (request_id.empty()) request_id = response.header("x-amz-request-id");
    std::string suffix =
        (message.empty() ? "" : ": " + message) +
        (request_id.empty() ? "" : " (request id " + request_id + ")") +
        (response.attempts > 1 ? " after " + std::to_string(response.attempts) + " attempts" : "");
    const std::string what = "S3 " + action + " " + where + " failed with HTTP " +
                             std::to_string(response.status) + (code.empty() ? "" : " " + code);

    if (code == "AuthorizationHeaderMalformed" || code == "PermanentRedirect" ||
        code == "IllegalLocationConstraintException" ||
        (!region.empty() && region != config_.region && response.status >= 300)) {
        throw S3Error(ErrorKind::invalid_input,
                      what + ": the bucket '" + bucket + "' is not in region '" + config_.region +
                          "'" + (region.empty() ? "" : ", it is in '" + region + "'") + suffix,
                      region.empty()
                          ? "set --s3-region (or AWS_REGION) to the bucket's region"
                          : "set --s3-region " + region + " (or AWS_REGION=" + region + ")",
                      code, response.status);
    }
    if (code == "AccessDenied" || code == "AllAccessDisabled") {
        std::string principal = principal_from(message);
        throw S3Error(ErrorKind::unauthorized,
                      "S3 AccessDenied: " + action + " on " + where + " (bucket '" + bucket +
                          "') was denied" + (principal.empty() ? "" : " for " + principal) + suffix,
                      "grant " +
                          (principal.empty() ? std::string("the credentials (from ") +
                                                   config_.credentials.source + ")"
                                             : principal) +
                          " " + iam_action(action) + " on arn:aws:s3:::" + bucket +
                          (action == "ListObjectsV2" ? "" : "/*") + ", and check the bucket policy",
                      code, response.status);
    }
    if (code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || code == "ExpiredToken" ||
        code == "InvalidToken" || code == "TokenRefreshRequired")
        throw S3Error(ErrorKind::unauthorized, what + suffix,
                      "check the AWS credentials (from " + config_.credentials.source +
                          ") and, for S3-compatible servers, --s3-endpoint",
                      code, response.status);
    if (code == "NoSuchBucket")
        throw S3Error(
            ErrorKind::not_found, "S3 " + action + ": no such bucket '" + bucket + "'" + suffix,
            "create the bucket, or fix the bucket name in --store", code, response.status);
    if (code == "NoSuchKey" || code == "NotFound")
        throw S3Error(ErrorKind::not_found, "S3 " + action + ": no such key " + where + suffix, "",
                      code, response.status);
    if (code == "NoSuchUpload")
        throw S3Error(ErrorKind::not_found, what + suffix, "", code, response.status);
    if (code == "BadDigest" || code == "XAmzContentSHA256Mismatch" || code == "InvalidDigest")
        throw S3Error(
            ErrorKind::io, what + ": the server received other bytes than were sent" + suffix,
            "retry; a repeated failure points at a proxy altering the data", code, response.status);
    if (code == "EntityTooSmall" || code == "EntityTooLarge")
        throw S3Error(ErrorKind::invalid_input, what + suffix,
                      "parts must be 5 MiB to 5 GiB (all but the last): check the part size", code,
                      response.status);
    throw S3Error(
        response.status >= 500 || response.status == 429 ? ErrorKind::io : ErrorKind::invalid_input,
        what + suffix,
        response.status >= 500 ? "the server kept failing after the retries; try later" : "", code,
        response.status);
}

// ---- upload ----

uint64_t multipart_part_size(uint64_t size, uint64_t configured) {
    uint64_t part = configured;
    if ((size + part - 1) / part > 10000) part = ((size / 10000) / (1 << 20) + 1) << 20;
    return part;
}

std::string S3Client::put_body(const std::string& action, const std::string& bucket,
                               const std::string& key, const std::string& url, uint64_t offset,
                               uint64_t size, const ReadAt& read_at,
                               const std::string& content_type) {
    // First pass: Content-MD5 and the signed SHA-256, so the server checks what it got.
    std::vector<char> buf(static_cast<size_t>(std::min<uint64_t>(size, 1 << 20)) + 1);
    BodyHashes h;
    for (uint64_t done = 0; done < size;) {
        size_t k = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - done));
        read_at(offset + done, buf.data(), k);
        h.update(buf.data(), k);
        done += k;
    }
    auto [md5, sha] = h.finish();
    HttpRequest r;
    r.method = "PUT";
    r.url = url;
    r.headers = {
        {"Content-MD5", base64(reinterpret_cast<const unsigned char*>(md5.data()), md5.size())}};
    if (!content_type.empty()) r.headers.emplace_back("Content-Type", content_type);
    auto pos = std::make_shared<uint64_t>(0);
    r.stream.size = size;
    r.stream.read = [=, &read_at](char* out, size_t n) {
        size_t k = static_cast<size_t>(std::min<uint64_t>(n, size - *pos));
        if (k) read_at(offset + *pos, out, k);
        *pos += k;
        return k;
    };
    r.stream.rewind = [pos] { *pos = 0; };
    HttpResponse resp = send(std::move(r), sha);
    if (resp.status != 200) throw_s3_error(action, bucket, key, resp);
    std::string etag = strip_quotes(resp.header("etag"));
    if (etag.empty())
        throw Error(ErrorKind::io,
                    "S3 " + action + " s3://" + bucket + "/" + key + ": the response has no ETag");
    return etag;
}

void S3Client::put_multipart(const std::string& bucket, const std::string& key, uint64_t size,
                             uint64_t part, const ReadAt& read_at,
                             const std::string& content_type) {
    HttpRequest init;
    init.method = "POST";
    init.url = object_url(bucket, key, "uploads=");
    if (!content_type.empty()) init.headers.emplace_back("Content-Type", content_type);
    HttpResponse r = send(init, kEmptySha256);
    if (r.status != 200) throw_s3_error("CreateMultipartUpload", bucket, key, r);
    const std::string upload_id =
        parse_xml(r.body, "CreateMultipartUpload response")->child_text("UploadId");
    if (upload_id.empty())
        throw Error(ErrorKind::io, "S3 CreateMultipartUpload s3://" + bucket + "/" + key +
                                       ": the response has no UploadId: '" + r.body.substr(0, 200) +
                                       "'");
    const std::string id_q = "uploadId=" + uri_encode(upload_id, false);
    try {
        std::string complete = "<CompleteMultipartUpload>";
        int number = 1;
        for (uint64_t offset = 0; offset < size; offset += part, ++number) {
            uint64_t n = std::min(part, size - offset);
            std::string url =
                object_url(bucket, key, "partNumber=" + std::to_string(number) + "&" + id_q);
            std::string etag = put_body("UploadPart", bucket, key, url, offset, n, read_at, "");
            complete += "<Part><PartNumber>" + std::to_string(number) + "</PartNumber><ETag>\"" +
                        xml_escape(etag) + "\"</ETag></Part>";
        }
        complete += "</CompleteMultipartUpload>";
        HttpRequest fin;
        fin.method = "POST";
        fin.url = object_url(bucket, key, id_q);
        fin.body = &complete;
        fin.headers = {{"Content-Type", "application/xml"}};
        HttpResponse fr = send(fin, sha256_hex(complete));
        // CompleteMultipartUpload can fail after answering 200: the error is in the body.
        if (fr.status != 200 || fr.body.find("<Error>") != std::string::npos)
            throw_s3_error("CompleteMultipartUpload", bucket, key, fr);
    } catch (...) {
        // Parts of an upload never completed are stored (and billed) until aborted.
        try {
            HttpRequest abort;
            abort.method = "DELETE";
            abort.url = object_url(bucket, key, id_q);
            send(abort, kEmptySha256);
        } catch (...) {
        }
        throw;
    }
}

void S3Client::put_file(const std::string& bucket, const std::string& key, const std::string& path,
                        const std::string& content_type) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_io(path + ": cannot open for upload: " + errno_text(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        int err = errno;
        ::close(fd);
        throw_io(path + ": cannot stat: " + errno_text(err));
    }
    auto read_at = [fd, &path](uint64_t offset, char* buf, size_t n) {
        pread_all(fd, offset, buf, n, path);
    };
    try {
        uint64_t size = static_cast<uint64_t>(st.st_size);
        if (size > config_.multipart_threshold)
            put_multipart(bucket, key, size, multipart_part_size(size, config_.part_size), read_at,
                          content_type);
        else
            put_body("PutObject", bucket, key, object_url(bucket, key), 0, size, read_at,
                     content_type);
    } catch (...) {
        ::close(fd);
        throw;
    }
    ::close(fd);
}

void S3Client::put(const std::string& bucket, const std::string& key, uint64_t size,
                   const std::function<size_t(char*, size_t)>& read,
                   const std::string& content_type) {
    // A reader cannot seek: each part is read once into memory, then hashed and sent from
    // there (parts are read in order, so read_at only ever asks inside the current part).
    std::string buffer;
    uint64_t buffer_offset = 0;
    const bool multipart = size > config_.multipart_threshold;
    const uint64_t part =
        multipart ? multipart_part_size(size, config_.part_size) : std::max<uint64_t>(size, 1);
    auto read_at = [&](uint64_t offset, char* out, size_t n) {
        if (offset < buffer_offset || offset + n > buffer_offset + buffer.size()) {
            // Load the part holding `offset` (the next one, in order).
            buffer_offset = offset - offset % part;
            uint64_t want = std::min(part, size - buffer_offset);
            buffer.resize(static_cast<size_t>(want));
            size_t got = 0;
            while (got < want) {
                size_t k = read(&buffer[got], static_cast<size_t>(want - got));
                if (k == 0)
                    throw_io("S3 put s3://" + bucket + "/" + key + ": the source ended after " +
                             std::to_string(buffer_offset + got) + " of " + std::to_string(size) +
                             " bytes");
                got += k;
            }
        }
        std::memcpy(out, buffer.data() + (offset - buffer_offset), n);
    };
    if (multipart)
        put_multipart(bucket, key, size, part, read_at, content_type);
    else
        put_body("PutObject", bucket, key, object_url(bucket, key), 0, size, read_at, content_type);
}

void S3Client::put_string(const std::string& bucket, const std::string& key,
                          const std::string& data, const std::string& content_type) {
    size_t pos = 0;
    put(
        bucket, key, data.size(),
        [&](char* out, size_t n) {
            size_t k = std::min(n, data.size() - pos);
            std::memcpy(out, data.data() + pos, k);
            pos += k;
            return k;
        },
        content_type);
}

// ---- download, head, list, delete ----

S3ObjectInfo S3Client::get(const std::string& bucket, const std::string& key,
                           const std::function<bool(const char*, size_t)>& write,
                           const std::function<void()>& restart) {
    BodyHashes hashes;
    uint64_t received = 0;
    HttpRequest r;
    r.method = "GET";
    r.url = object_url(bucket, key);
    r.sink = [&](const char* p, size_t n) {
        hashes.update(p, n);
        received += n;
        return write(p, n);
    };
    r.sink_reset = [&] {
        hashes.reset();
        received = 0;
        if (restart) restart();
    };
    HttpResponse resp = send(r, kEmptySha256);
    if (resp.status != 200) throw_s3_error("GetObject", bucket, key, resp);
    S3ObjectInfo info;
    info.key = key;
    info.size = received;
    info.etag = strip_quotes(resp.header("etag"));
    info.last_modified = resp.header("last-modified");
    const std::string where = "S3 GetObject s3://" + bucket + "/" + key;
    std::string length = resp.header("content-length");
    if (!length.empty() && std::to_string(received) != length)
        throw_io(where + ": received " + std::to_string(received) + " bytes, Content-Length said " +
                     length,
                 "the transfer was cut; retry");
    auto [md5, sha] = hashes.finish();
    (void)sha;
    // A single-part upload's ETag is the MD5 of the bytes (multipart ETags end in "-N", and
    // SSE-KMS ETags are not digests: those are checked by length only).
    if (is_md5_etag(info.etag) && resp.header("x-amz-server-side-encryption") != "aws:kms") {
        std::string got = hex_lower(md5.data(), md5.size());
        if (got != lower(info.etag))
            throw_io(
                where + ": the downloaded bytes have MD5 " + got + " but the ETag is " + info.etag,
                "the object was corrupted in transit or at rest; retry");
    }
    return info;
}

S3ObjectInfo S3Client::get_file(const std::string& bucket, const std::string& key,
                                const std::string& path) {
    std::string tmp = path + ".part-" + std::to_string(::getpid()) + "-" +
                      std::to_string(g_tmp_counter.fetch_add(1));
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw_io(tmp + ": cannot create: " + errno_text(errno));
    S3ObjectInfo info;
    try {
        info = get(
            bucket, key,
            [&](const char* p, size_t n) {
                while (n > 0) {
                    ssize_t w = ::write(fd, p, n);
                    if (w < 0) {
                        if (errno == EINTR) continue;
                        int err = errno;
                        throw Error(err == ENOSPC ? ErrorKind::resource_exhausted : ErrorKind::io,
                                    tmp + ": write failed: " + errno_text(err));
                    }
                    p += w;
                    n -= static_cast<size_t>(w);
                }
                return true;
            },
            [&] {
                if (::ftruncate(fd, 0) != 0 || ::lseek(fd, 0, SEEK_SET) != 0)
                    throw_io(tmp + ": cannot restart the download: " + errno_text(errno));
            });
        if (::fsync(fd) != 0) throw_io(tmp + ": fsync failed: " + errno_text(errno));
    } catch (...) {
        ::close(fd);
        ::unlink(tmp.c_str());
        throw;
    }
    ::close(fd);
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        throw_io(path + ": rename failed: " + errno_text(err));
    }
    return info;
}

std::string S3Client::get_string(const std::string& bucket, const std::string& key) {
    std::string out;
    get(
        bucket, key,
        [&](const char* p, size_t n) {
            out.append(p, n);
            return true;
        },
        [&] { out.clear(); });
    return out;
}

std::optional<S3ObjectInfo> S3Client::head(const std::string& bucket, const std::string& key) {
    HttpRequest r;
    r.method = "HEAD";
    r.url = object_url(bucket, key);
    HttpResponse resp = send(r, kEmptySha256);
    if (resp.status == 404) {
        // A missing bucket also answers 404 to HEAD; only the key being absent is "no".
        // x-amz-error-code is not sent on HEAD by every server, so ask the bucket.
        HttpRequest lr;
        lr.method = "GET";
        lr.url = object_url(bucket, "", "list-type=2&max-keys=0");
        HttpResponse l = send(lr, kEmptySha256);
        if (l.status != 200) throw_s3_error("ListObjectsV2", bucket, "", l);
        return std::nullopt;
    }
    if (resp.status != 200) throw_s3_error("HeadObject", bucket, key, resp);
    S3ObjectInfo info;
    info.key = key;
    std::string length = resp.header("content-length");
    info.size = length.empty() ? 0 : std::stoull(length);
    info.etag = strip_quotes(resp.header("etag"));
    info.last_modified = resp.header("last-modified");
    return info;
}

S3ListPage S3Client::list_page(const std::string& bucket, const std::string& prefix,
                               const std::string& continuation_token, int max_keys) {
    std::string q = "list-type=2&max-keys=" + std::to_string(max_keys);
    if (!prefix.empty()) q += "&prefix=" + uri_encode(prefix, false);
    if (!continuation_token.empty())
        q += "&continuation-token=" + uri_encode(continuation_token, false);
    HttpRequest r;
    r.method = "GET";
    r.url = object_url(bucket, "", q);
    HttpResponse resp = send(r, kEmptySha256);
    if (resp.status != 200) throw_s3_error("ListObjectsV2", bucket, "", resp);
    auto xml = parse_xml(resp.body, "S3 ListObjectsV2 response for s3://" + bucket);
    S3ListPage page;
    for (const XmlNode* c : xml->children_named("Contents")) {
        S3ObjectInfo o;
        o.key = c->child_text("Key");
        std::string size = c->child_text("Size");
        o.size = size.empty() ? 0 : std::stoull(size);
        o.etag = strip_quotes(c->child_text("ETag"));
        o.last_modified = c->child_text("LastModified");
        page.objects.push_back(std::move(o));
    }
    if (xml->child_text("IsTruncated") == "true") {
        page.next_continuation_token = xml->child_text("NextContinuationToken");
        if (page.next_continuation_token.empty())
            throw Error(ErrorKind::io, "S3 ListObjectsV2 s3://" + bucket +
                                           ": a truncated page without NextContinuationToken");
    }
    return page;
}

std::vector<S3ObjectInfo> S3Client::list(const std::string& bucket, const std::string& prefix) {
    std::vector<S3ObjectInfo> out;
    std::string token;
    do {
        S3ListPage page = list_page(bucket, prefix, token);
        for (auto& o : page.objects)
            out.push_back(std::move(o));
        token = page.next_continuation_token;
    } while (!token.empty());
    return out;
}

void S3Client::remove(const std::string& bucket, const std::string& key) {
    HttpRequest r;
    r.method = "DELETE";
    r.url = object_url(bucket, key);
    HttpResponse resp = send(r, kEmptySha256);
    if (resp.status == 204 || resp.status == 200) return;
    if (resp.status == 404 && aws_error_code(resp.body) == "NoSuchKey") return;
    throw_s3_error("DeleteObject", bucket, key, resp);
}

}  // namespace llmtune::cloud
