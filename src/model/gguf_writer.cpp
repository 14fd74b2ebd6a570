#include "model/gguf_writer.h"

#include <c10/util/Half.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/atomic_file.h"
#include "common/error.h"

// The format is little-endian; values are copied with memcpy, which is only right on a
// little-endian host (every platform libtorch supports).
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "GGUF writing assumes little-endian");

namespace llmtune::model {

namespace {

constexpr size_t kMaxTensorName = 64;  // ggml's GGML_MAX_NAME, terminating zero included

template <typename T>
void put(std::string& out, T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out.append(b, sizeof(T));
}

void put_string(std::string& out, const std::string& s) {
    put<uint64_t>(out, s.size());
    out.append(s);
}

uint64_t pad_to(uint64_t n, uint64_t alignment) {
    return (n + alignment - 1) / alignment * alignment;
}

// Q8_0 of a contiguous f32 row set: per 32 values, the f16 scale then 32 int8.
void encode_q8_0(const float* x, int64_t n, uint8_t* out) {
    for (int64_t b = 0; b < n / kQ8_0BlockSize; ++b) {
        const float* v = x + b * kQ8_0BlockSize;
        float amax = 0.0f;
        for (int64_t i = 0; i < kQ8_0BlockSize; ++i) amax = std::max(amax, std::fabs(v[i]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        const c10::Half dh(d);
        uint8_t* block = out + b * (2 + kQ8_0BlockSize);
        std::memcpy(block, &dh.x, 2);
        for (int64_t i = 0; i < kQ8_0BlockSize; ++i) {
            const auto q = static_cast<int8_t>(std::round(v[i] * id));
            std::memcpy(block + 2 + i, &q, 1);
        }
    }
}

}  // namespace

const char* ggml_type_name(GgmlType type) {
    switch (type) {
        case GgmlType::f32:
            return "f32";
        case GgmlType::f16:
            return "f16";
        case GgmlType::bf16:
            return "bf16";
        case GgmlType::q8_0:
            return "q8_0";
    }
    return "?";
}

GgmlType parse_ggml_type(const std::string& name) {
    for (GgmlType t : {GgmlType::f32, GgmlType::f16, GgmlType::bf16, GgmlType::q8_0})
        if (name == ggml_type_name(t)) return t;
    throw_invalid("unknown GGUF tensor type '" + name + "'", "choose one of: f32, f16, bf16, q8_0");
}

uint64_t ggml_type_bytes(GgmlType type, int64_t n) {
    switch (type) {
        case GgmlType::f32:
            return 4ULL * n;
        case GgmlType::f16:
        case GgmlType::bf16:
            return 2ULL * n;
        case GgmlType::q8_0:
            LLMTUNE_ASSERT(n % kQ8_0BlockSize == 0, "Q8_0 needs whole blocks");
            return static_cast<uint64_t>(n / kQ8_0BlockSize) * (2 + kQ8_0BlockSize);
    }
    return 0;
}

std::vector<uint8_t> encode_ggml_tensor(const torch::Tensor& x, GgmlType type) {
    const int64_t n = x.numel();
    std::vector<uint8_t> out(ggml_type_bytes(type, type == GgmlType::q8_0 ? 0 : n));
    auto cpu = x.detach().to(torch::kCPU);
    switch (type) {
        case GgmlType::f32:
        case GgmlType::f16:
        case GgmlType::bf16: {
            const auto dtype = type == GgmlType::f32   ? torch::kFloat32
                               : type == GgmlType::f16 ? torch::kFloat16
                                                       : torch::kBFloat16;
            auto t = cpu.to(dtype).contiguous();
            std::memcpy(out.data(), t.data_ptr(), out.size());
            return out;
        }
        case GgmlType::q8_0: {
            if (x.dim() == 0 || x.size(-1) % kQ8_0BlockSize != 0)
                throw_invalid("Q8_0 needs rows that are a multiple of 32 values; this tensor has " +
                                  std::to_string(x.dim() ? x.size(-1) : 1),
                              "export it as f16 or f32");
            auto t = cpu.to(torch::kFloat32).contiguous();
            out.resize(ggml_type_bytes(type, n));
            encode_q8_0(t.data_ptr<float>(), n, out.data());
            return out;
        }
    }
    return out;
}

GgufWriter::GgufWriter(uint32_t alignment) : alignment_(alignment) {
    if (alignment == 0 || alignment % 8 != 0)
        throw_invalid("GGUF alignment must be a positive multiple of 8, got " +
                      std::to_string(alignment));
}

void GgufWriter::begin_kv(const std::string& key, GgufValueType type) {
    if (!keys_.insert(key).second)
        throw Error(ErrorKind::conflict, "GGUF metadata key '" + key + "' added twice",
                    "this is a bug in llmtune; please report it");
    put_string(kv_bytes_, key);
    put<uint32_t>(kv_bytes_, static_cast<uint32_t>(type));
    ++kv_count_;
}

void GgufWriter::add_uint32(const std::string& key, uint32_t v) {
    begin_kv(key, GgufValueType::uint32);
    put(kv_bytes_, v);
}
void GgufWriter::add_int32(const std::string& key, int32_t v) {
    begin_kv(key, GgufValueType::int32);
    put(kv_bytes_, v);
}
void GgufWriter::add_uint64(const std::string& key, uint64_t v) {
    begin_kv(key, GgufValueType::uint64);
    put(kv_bytes_, v);
}
void GgufWriter::add_float32(const std::string& key, float v) {
    begin_kv(key, GgufValueType::float32);
    put(kv_bytes_, v);
}
void GgufWriter::add_bool(const std::string& key, bool v) {
    begin_kv(key, GgufValueType::boolean);
    put<uint8_t>(kv_bytes_, v ? 1 : 0);
}
void GgufWriter::add_string(const std::string& key, const std::string& v) {
    begin_kv(key, GgufValueType::string);
    put_string(kv_bytes_, v);
}
void GgufWriter::add_string_array(const std::string& key, const std::vector<std::string>& v) {
    begin_kv(key, GgufValueType::array);
    put<uint32_t>(kv_bytes_, static_cast<uint32_t>(GgufValueType::string));
    put<uint64_t>(kv_bytes_, v.size());
    for (const auto& s : v) put_string(kv_bytes_, s);
}
void GgufWriter::add_int32_array(const std::string& key, const std::vector<int32_t>& v) {
    begin_kv(key, GgufValueType::array);
    put<uint32_t>(kv_bytes_, static_cast<uint32_t>(GgufValueType::int32));
    put<uint64_t>(kv_bytes_, v.size());
    for (int32_t x : v) put(kv_bytes_, x);
}
void GgufWriter::add_float32_array(const std::string& key, const std::vector<float>& v) {
    begin_kv(key, GgufValueType::array);
    put<uint32_t>(kv_bytes_, static_cast<uint32_t>(GgufValueType::float32));
    put<uint64_t>(kv_bytes_, v.size());
    for (float x : v) put(kv_bytes_, x);
}

void GgufWriter::add_tensor(const std::string& name, const torch::Tensor& tensor, GgmlType type) {
    if (name.size() >= kMaxTensorName)
        throw_invalid("GGUF tensor name '" + name + "' is longer than 63 bytes");
    if (!tensor_names_.insert(name).second)
        throw Error(ErrorKind::conflict, "GGUF tensor '" + name + "' added twice",
                    "this is a bug in llmtune; please report it");
    if (tensor.dim() < 1 || tensor.dim() > 4)
        throw_invalid("GGUF tensor '" + name + "' has " + std::to_string(tensor.dim()) +
                      " dimensions; ggml takes 1 to 4");
    if (type == GgmlType::q8_0 && tensor.size(-1) % kQ8_0BlockSize != 0)
        throw_invalid("GGUF tensor '" + name + "': Q8_0 needs rows that are a multiple of 32 " +
                          "values, this one has " + std::to_string(tensor.size(-1)),
                      "store it as f16 or f32");
    PendingTensor t{name, tensor, type, pad_to(data_end_, alignment_),
                    ggml_type_bytes(type, tensor.numel())};
    data_end_ = t.offset + t.bytes;
    tensors_.push_back(std::move(t));
}

uint64_t GgufWriter::tensor_data_bytes() const {
    return pad_to(data_end_, alignment_);
}

void GgufWriter::write(const std::string& path, const ProgressFn& progress) const {
    std::string head;
    put<uint32_t>(head, 0x46554747u);  // "GGUF" read as a little-endian u32
    put<uint32_t>(head, kGgufVersion);
    put<uint64_t>(head, tensors_.size());
    const bool custom_alignment = alignment_ != kGgufDefaultAlignment;
    put<uint64_t>(head, kv_count_ + (custom_alignment ? 1 : 0));
    head += kv_bytes_;
    if (custom_alignment) {
        put_string(head, "general.alignment");
        put<uint32_t>(head, static_cast<uint32_t>(GgufValueType::uint32));
        put<uint32_t>(head, alignment_);
    }
    for (const auto& t : tensors_) {
        put_string(head, t.name);
        put<uint32_t>(head, static_cast<uint32_t>(t.tensor.dim()));
        for (int64_t d = t.tensor.dim() - 1; d >= 0; --d)  // ggml lists the innermost first
            put<uint64_t>(head, static_cast<uint64_t>(t.tensor.size(d)));
        put<uint32_t>(head, static_cast<uint32_t>(t.type));
        put<uint64_t>(head, t.offset);
    }
    head.resize(pad_to(head.size(), alignment_), '\0');

    AtomicFile file(path);
    file.write(head.data(), head.size());
    const uint64_t total = tensor_data_bytes();
    uint64_t pos = 0;
    const std::string zeros(alignment_, '\0');
    for (const auto& t : tensors_) {
        LLMTUNE_ASSERT(t.offset >= pos && t.offset - pos < alignment_, "tensor offsets in order");
        file.write(zeros.data(), t.offset - pos);
        auto bytes = encode_ggml_tensor(t.tensor, t.type);
        LLMTUNE_ASSERT(bytes.size() == t.bytes, "encoded size matches the tensor info");
        file.write(bytes.data(), bytes.size());
        pos = t.offset + t.bytes;
        if (progress) progress(pos, total);
    }
    file.write(zeros.data(), total - pos);
    file.commit();
}

}  // namespace llmtune::model
