// GgufWriter: writes a GGUF v3 file (the llama.cpp / ggml model format), implemented from the
// format's specification (ggml docs/gguf.md).
//
// Layout, all little-endian: "GGUF", version u32 = 3, tensor count u64, metadata count u64;
// the metadata key/value pairs (key: u64 length + UTF-8 bytes; value: type u32 + payload;
// arrays: element type u32 + count u64 + elements); the tensor infos (name, n_dims u32,
// dims u64 innermost first, ggml type u32, data offset u64 relative to the data section);
// zero padding to the alignment; then each tensor's data, each padded to the alignment.
//
// Tensor types: F32, F16, BF16 (round to nearest even, as torch and ggml both do) and Q8_0
// (blocks of 32 values along the innermost dimension: an f16 scale d = max|x| / 127 and 32
// int8 q = round(x / d)). Tensors are converted one at a time while writing, so memory stays
// bounded by the largest tensor. The file is written atomically (common/atomic_file.h).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

namespace llmtune::model {

enum class GgufValueType : uint32_t {
    uint8 = 0,
    int8 = 1,
    uint16 = 2,
    int16 = 3,
    uint32 = 4,
    int32 = 5,
    float32 = 6,
    boolean = 7,
    string = 8,
    array = 9,
    uint64 = 10,
    int64 = 11,
    float64 = 12,
};

// The ggml tensor types llmtune writes (values are ggml's enum ggml_type).
enum class GgmlType : uint32_t { f32 = 0, f16 = 1, q8_0 = 8, bf16 = 30 };

constexpr uint32_t kGgufVersion = 3;
constexpr uint32_t kGgufDefaultAlignment = 32;
constexpr int64_t kQ8_0BlockSize = 32;  // values per Q8_0 block (2-byte scale + 32 int8)

const char* ggml_type_name(GgmlType type);  // "f32", "f16", "bf16", "q8_0"
// Parses "f32" | "f16" | "bf16" | "q8_0"; invalid_input listing the choices otherwise.
GgmlType parse_ggml_type(const std::string& name);
// Bytes of `n_elements` values; for Q8_0, n_elements must be a multiple of the block size.
uint64_t ggml_type_bytes(GgmlType type, int64_t n_elements);

// Encodes x (any float dtype, any device) as `type` in ggml's byte layout, row-major over x
// (the innermost torch dimension is ggml's ne0). For Q8_0, x.size(-1) must be a multiple of
// 32 (invalid_input otherwise).
std::vector<uint8_t> encode_ggml_tensor(const torch::Tensor& x, GgmlType type);

class GgufWriter {
  public:
    explicit GgufWriter(uint32_t alignment = kGgufDefaultAlignment);

    // Metadata, written in the order added. A key may appear once (conflict otherwise).
    void add_uint32(const std::string& key, uint32_t v);
    void add_int32(const std::string& key, int32_t v);
    void add_uint64(const std::string& key, uint64_t v);
    void add_float32(const std::string& key, float v);
    void add_bool(const std::string& key, bool v);
    void add_string(const std::string& key, const std::string& v);
    void add_string_array(const std::string& key, const std::vector<std::string>& v);
    void add_int32_array(const std::string& key, const std::vector<int32_t>& v);
    void add_float32_array(const std::string& key, const std::vector<float>& v);

    // A tensor, kept by reference and converted when write() reaches it. Names are unique
    // (conflict otherwise) and shorter than 64 bytes (ggml's GGML_MAX_NAME).
    void add_tensor(const std::string& name, const torch::Tensor& tensor, GgmlType type);

    // Called after each tensor with (bytes written so far, total bytes).
    using ProgressFn = std::function<void(uint64_t done, uint64_t total)>;
    // Writes the file atomically; general.alignment is added when it is not 32.
    void write(const std::string& path, const ProgressFn& progress = {}) const;

    uint64_t tensor_data_bytes() const;  // the data section's size, padding included

  private:
    struct PendingTensor {
        std::string name;
        torch::Tensor tensor;
        GgmlType type;
        uint64_t offset;  // within the data section
        uint64_t bytes;
    };
    void begin_kv(const std::string& key, GgufValueType type);

    uint32_t alignment_;
    std::string kv_bytes_;  // serialized key/value pairs
    uint64_t kv_count_ = 0;
    std::set<std::string> keys_;
    std::vector<PendingTensor> tensors_;
    std::set<std::string> tensor_names_;
    uint64_t data_end_ = 0;  // end of the last tensor, unpadded
};

}  // namespace llmtune::model
