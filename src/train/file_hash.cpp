#include "train/file_hash.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "common/error.h"
#include "common/hex.h"

namespace fs = std::filesystem;

namespace llmtune::train {

namespace {

struct CtxFree {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_MD_CTX, CtxFree>;

Ctx new_ctx() {
    Ctx ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
        throw Error(ErrorKind::internal, "OpenSSL could not start a SHA-256 digest");
    return ctx;
}

std::string finish(EVP_MD_CTX* ctx) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(ctx, md, &n) != 1)
        throw Error(ErrorKind::internal, "OpenSSL could not finish a SHA-256 digest");
    return hex_lower(md, n);
}

}  // namespace

std::string sha256_file(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) {
        const int err = errno;
        if (err == ENOENT) throw Error(ErrorKind::not_found, "file not found: " + path);
        throw_io("cannot open " + path + ": " + errno_text(err));
    }
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> guard(f, std::fclose);
    Ctx ctx = new_ctx();
    std::vector<char> buf(1 << 20);
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0)
        EVP_DigestUpdate(ctx.get(), buf.data(), n);
    if (std::ferror(f)) throw_io("cannot read " + path + ": " + errno_text(errno));
    return finish(ctx.get());
}

std::string sha256_text(const std::string& text) {
    Ctx ctx = new_ctx();
    EVP_DigestUpdate(ctx.get(), text.data(), text.size());
    return finish(ctx.get());
}

ModelHash hash_model_weights(const std::string& model_dir) {
    ModelHash h;
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(model_dir, ec))
        if (e.is_regular_file() && e.path().extension() == ".safetensors")
            names.push_back(e.path().filename().string());
    if (ec) throw_io("cannot list " + model_dir + ": " + ec.message());
    if (names.empty())
        throw Error(ErrorKind::not_found, "no .safetensors files in " + model_dir,
                    "model.path must be a Hugging Face model directory");
    std::sort(names.begin(), names.end());
    std::string listing;
    for (const auto& name : names) {
        const std::string path = model_dir + "/" + name;
        FileHash f{name, static_cast<uint64_t>(fs::file_size(path)), sha256_file(path)};
        listing += f.sha256 + "  " + name + "\n";
        h.files.push_back(std::move(f));
    }
    h.combined = sha256_text(listing);
    return h;
}

}  // namespace llmtune::train
