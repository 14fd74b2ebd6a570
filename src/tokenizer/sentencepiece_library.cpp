#include "tokenizer/sentencepiece_library.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "common/error.h"

namespace fs = std::filesystem;

namespace llmtune::tokenizer {

namespace {

constexpr const char* kModuleName = "libllmtune_sentencepiece.so";
constexpr int kAbiVersion = 1;  // sentencepiece_shim.cpp's llmtune_spm_abi_version()

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LLMTUNE_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define LLMTUNE_SANITIZED 1
#endif
#endif

#ifdef LLMTUNE_SANITIZED
constexpr int kOpenFlags = RTLD_NOW | RTLD_LOCAL;  // sanitizer runtimes refuse RTLD_DEEPBIND
#else
constexpr int kOpenFlags = RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND;
#endif

using Sink = void (*)(void*, const int*, size_t);

// The module's functions (see sentencepiece_shim.cpp).
struct Api {
    int (*abi_version)();
    void* (*load)(const char*, size_t, char*, size_t);
    void (*free)(void*);
    int (*piece_size)(const void*);
    int (*piece)(const void*, int, const char**, size_t*);
    int (*piece_to_id)(const void*, const char*, size_t);
    void (*special_ids)(const void*, int*);
    int (*encode)(const void*, const char*, size_t, Sink, void*, char*, size_t);
};

std::vector<std::string> candidate_paths() {
    std::vector<std::string> out;
    if (const char* env = std::getenv("LLMTUNE_SENTENCEPIECE_LIBRARY"); env && *env)
        out.push_back(env);
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        out.push_back((exe.parent_path() / kModuleName).string());
        out.push_back((exe.parent_path().parent_path() / "lib" / kModuleName).string());
    }
#ifdef LLMTUNE_SENTENCEPIECE_MODULE
    out.push_back(LLMTUNE_SENTENCEPIECE_MODULE);
#endif
    return out;
}

template <typename F>
void resolve(void* module, const char* name, F& fn, std::string& error) {
    fn = reinterpret_cast<F>(dlsym(module, name));
    if (!fn && error.empty()) error = std::string("missing symbol ") + name;
}

// Loads the module once; throws the same io error on every call when that failed.
const Api& api() {
    static Api table{};
    static std::string failure;
    static std::once_flag once;
    std::call_once(once, [] {
        std::string tried;
        for (const std::string& path : candidate_paths()) {
            if (!fs::exists(path)) {
                tried += "\n  " + path + ": no such file";
                continue;
            }
            void* module = dlopen(path.c_str(), kOpenFlags);
            if (!module) {
                const char* why = dlerror();
                tried += "\n  " + path + ": " + (why ? why : "dlopen failed");
                continue;
            }
            std::string error;
            resolve(module, "llmtune_spm_abi_version", table.abi_version, error);
            resolve(module, "llmtune_spm_load", table.load, error);
            resolve(module, "llmtune_spm_free", table.free, error);
            resolve(module, "llmtune_spm_piece_size", table.piece_size, error);
            resolve(module, "llmtune_spm_piece", table.piece, error);
            resolve(module, "llmtune_spm_piece_to_id", table.piece_to_id, error);
            resolve(module, "llmtune_spm_special_ids", table.special_ids, error);
            resolve(module, "llmtune_spm_encode", table.encode, error);
            if (error.empty() && table.abi_version() != kAbiVersion)
                error = "interface version " + std::to_string(table.abi_version()) + ", expected " +
                        std::to_string(kAbiVersion);
            if (error.empty()) return;  // the module stays loaded for the life of the process
            tried += "\n  " + path + ": " + error;
            dlclose(module);
            table = Api{};
        }
        failure = "cannot load llmtune's SentencePiece module (" + std::string(kModuleName) +
                  "), needed to read tokenizer.model; tried:" + tried;
    });
    if (!failure.empty())
        throw Error(ErrorKind::io, failure,
                    "build the llmtune_sentencepiece target beside llmtune (cmake --build build), "
                    "or set LLMTUNE_SENTENCEPIECE_LIBRARY to its path");
    return table;
}

}  // namespace

std::unique_ptr<SpmProcessor> SpmProcessor::load(std::string_view serialized,
                                                 const std::string& source) {
    const Api& a = api();
    char error[512] = "";
    void* handle = a.load(serialized.data(), serialized.size(), error, sizeof error);
    if (!handle)
        throw_invalid(source + ": not a SentencePiece model: " + error,
                      "tokenizer.model must be a SentencePiece model as written by spm_train or "
                      "shipped with the model; or provide a tokenizer.json instead");
    return std::unique_ptr<SpmProcessor>(new SpmProcessor(handle));
}

SpmProcessor::SpmProcessor(void* handle) : handle_(handle) {
    api().special_ids(handle_, special_);
}

SpmProcessor::~SpmProcessor() {
    api().free(handle_);
}

int SpmProcessor::piece_size() const {
    return api().piece_size(handle_);
}

SpmProcessor::PieceType SpmProcessor::piece(int id, std::string& out) const {
    const char* data = nullptr;
    size_t size = 0;
    int type = api().piece(handle_, id, &data, &size);
    out.assign(data, size);
    switch (type) {
        case 1:
            return PieceType::unknown;
        case 2:
            return PieceType::control;
        case 3:
            return PieceType::byte;
        default:
            return PieceType::normal;
    }
}

int SpmProcessor::piece_to_id(std::string_view piece) const {
    return api().piece_to_id(handle_, piece.data(), piece.size());
}

void SpmProcessor::encode(std::string_view text, std::vector<int>& out) const {
    char error[512] = "";
    Sink sink = [](void* context, const int* ids, size_t n) {
        static_cast<std::vector<int>*>(context)->insert(
            static_cast<std::vector<int>*>(context)->end(), ids, ids + n);
    };
    if (api().encode(handle_, text.data(), text.size(), sink, &out, error, sizeof error) != 0)
        throw_invalid(std::string("SentencePiece cannot encode the text: ") + error,
                      "check the input text");
}

}  // namespace llmtune::tokenizer
