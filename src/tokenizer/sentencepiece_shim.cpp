// libllmtune_sentencepiece.so: a C interface over libsentencepiece, loaded at run time by
// sentencepiece_library.cpp. This is the only file that includes libsentencepiece's header.
//
// Why a separate module: Debian's libsentencepiece.so carries its own protobuf-lite (3.14) and
// exports its symbols. In a process that also has libprotobuf.so (libtorch loads 3.21), one copy
// interposes the other and the process crashes at start-up. Loaded with dlopen(RTLD_LOCAL |
// RTLD_DEEPBIND), this module and libsentencepiece bind to their own protobuf and stay out of
// the global symbol scope. Only plain C types cross the interface, so no memory is allocated on
// one side and freed on the other.
#include <sentencepiece_processor.h>

#include <cstddef>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#define LLMTUNE_SPM_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

using sentencepiece::SentencePieceProcessor;

const SentencePieceProcessor* processor(const void* handle) {
    return static_cast<const SentencePieceProcessor*>(handle);
}

void set_error(char* error, size_t capacity, const std::string& message) {
    if (!error || capacity == 0) return;
    size_t n = message.size() < capacity - 1 ? message.size() : capacity - 1;
    std::memcpy(error, message.data(), n);
    error[n] = '\0';
}

}  // namespace

// Changes whenever a signature below changes.
LLMTUNE_SPM_EXPORT int llmtune_spm_abi_version() {
    return 1;
}

// A processor for the serialized ModelProto, or null with the reason in `error`.
LLMTUNE_SPM_EXPORT void* llmtune_spm_load(const char* data, size_t size, char* error,
                                          size_t error_capacity) {
    try {
        auto sp = std::make_unique<SentencePieceProcessor>();
        auto status = sp->LoadFromSerializedProto(std::string_view(data, size));
        if (!status.ok()) {
            set_error(error, error_capacity, status.ToString());
            return nullptr;
        }
        return sp.release();
    } catch (const std::exception& e) {
        set_error(error, error_capacity, e.what());
        return nullptr;
    }
}

LLMTUNE_SPM_EXPORT void llmtune_spm_free(void* handle) {
    delete static_cast<SentencePieceProcessor*>(handle);
}

LLMTUNE_SPM_EXPORT int llmtune_spm_piece_size(const void* handle) {
    return processor(handle)->GetPieceSize();
}

// The piece of `id` (0 <= id < piece size), owned by the processor. Returns its type:
// 0 normal (also user-defined and unused), 1 unknown, 2 control, 3 byte.
LLMTUNE_SPM_EXPORT int llmtune_spm_piece(const void* handle, int id, const char** data,
                                         size_t* size) {
    const SentencePieceProcessor* sp = processor(handle);
    const std::string& piece = sp->IdToPiece(id);
    *data = piece.data();
    *size = piece.size();
    if (sp->IsUnknown(id)) return 1;
    if (sp->IsControl(id)) return 2;
    if (sp->IsByte(id)) return 3;
    return 0;
}

LLMTUNE_SPM_EXPORT int llmtune_spm_piece_to_id(const void* handle, const char* data, size_t size) {
    return processor(handle)->PieceToId(std::string_view(data, size));
}

// unk, bos, eos and pad ids (-1 when the model has none) into out[0..3].
LLMTUNE_SPM_EXPORT void llmtune_spm_special_ids(const void* handle, int* out) {
    const SentencePieceProcessor* sp = processor(handle);
    out[0] = sp->unk_id();
    out[1] = sp->bos_id();
    out[2] = sp->eos_id();
    out[3] = sp->pad_id();
}

// Encodes `text` and hands the ids to `sink`. Returns 0, or -1 with the reason in `error`.
LLMTUNE_SPM_EXPORT int llmtune_spm_encode(const void* handle, const char* text, size_t size,
                                          void (*sink)(void* context, const int* ids, size_t n),
                                          void* context, char* error, size_t error_capacity) {
    try {
        std::vector<int> ids;
        auto status = processor(handle)->Encode(std::string_view(text, size), &ids);
        if (!status.ok()) {
            set_error(error, error_capacity, status.ToString());
            return -1;
        }
        sink(context, ids.data(), ids.size());
        return 0;
    } catch (const std::exception& e) {
        set_error(error, error_capacity, e.what());
        return -1;
    }
}
