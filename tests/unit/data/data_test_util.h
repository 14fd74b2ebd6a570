// Helpers for the data tests: compressed fixtures and reading records back.
#pragma once

#include <zlib.h>
#include <zstd.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/json_file.h"
#include "data/record_error.h"
#include "support/test_support.h"

namespace llmtune::data::test_util {

inline std::string gzip_bytes(const std::string& data) {
    z_stream z{};
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw std::runtime_error("deflateInit2");
    std::string out(deflateBound(&z, data.size()) + 64, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("deflate");
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

inline std::string zstd_bytes(const std::string& data) {
    std::string out(ZSTD_compressBound(data.size()), '\0');
    size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
    if (ZSTD_isError(n)) throw std::runtime_error("ZSTD_compress");
    out.resize(n);
    return out;
}

// All records of a source.
inline std::vector<SourceRecord> read_all(RecordSource& src) {
    std::vector<SourceRecord> out;
    SourceRecord r;
    while (src.next(r))
        out.push_back(r);
    return out;
}

// The JSON values of a JSONL file's lines.
inline std::vector<json> read_jsonl(const std::string& path) {
    std::vector<json> out;
    std::string text = llmtune::test::read_file(path);
    size_t start = 0;
    while (start < text.size()) {
        size_t nl = text.find('\n', start);
        if (nl == std::string::npos) nl = text.size();
        if (nl > start) out.push_back(json::parse(text.substr(start, nl - start)));
        start = nl + 1;
    }
    return out;
}

// Runs `f`, expecting llmtune::Error whose message contains every one of `parts`.
template <typename F>
std::string expect_error(F&& f, std::initializer_list<std::string> parts) {
    try {
        f();
    } catch (const llmtune::Error& e) {
        std::string m = e.message();
        for (const auto& p : parts)
            if (m.find(p) == std::string::npos) return "message lacks \"" + p + "\": " + m;
        return "";
    }
    return "no error thrown";
}

}  // namespace llmtune::data::test_util
