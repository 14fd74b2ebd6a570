// The safetensors header: parsing and validation, without torch.
//
// File layout (https://github.com/huggingface/safetensors): an 8-byte little-endian header
// length N, N bytes of JSON mapping tensor names to {dtype, shape, data_offsets}, then the
// data buffer. Offsets are relative to the start of the buffer. The parser checks everything
// a hostile file could get wrong, so callers can index the buffer without further checks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace llmtune::model {

enum class StDtype { BOOL, U8, I8, I16, I32, I64, F16, BF16, F32, F64 };

const char* st_dtype_name(StDtype dtype);
size_t st_dtype_size(StDtype dtype);
// Throws invalid_input naming the dtype if it is not one llmtune reads.
StDtype st_dtype_from_name(const std::string& name, const std::string& where);

struct StTensorInfo {
    std::string name;
    StDtype dtype;
    std::vector<int64_t> shape;
    uint64_t begin = 0;  // offsets into the data buffer
    uint64_t end = 0;
    int64_t numel() const;
};

struct StHeader {
    std::vector<StTensorInfo> tensors;  // in data-offset order
    std::map<std::string, std::string> metadata;
    uint64_t data_start = 0;  // file offset of the data buffer (8 + header length)
    const StTensorInfo* find(const std::string& name) const;
};

// Largest header accepted, as in the reference implementation: a bigger one is either
// corrupt or hostile, and would otherwise make us allocate and parse gigabytes.
constexpr uint64_t kMaxStHeaderBytes = 100'000'000;

// Parses and validates the header of a file of `file_size` bytes whose first bytes are at
// `data` (at least min(file_size, 8 + N) bytes readable). `source` names the file in errors.
StHeader parse_st_header(const uint8_t* data, size_t file_size, const std::string& source);

}  // namespace llmtune::model
