#include "model/safetensors_header.h"

#include <algorithm>
#include <cstring>

#include "common/error.h"
#include "common/json_file.h"

namespace llmtune::model {

namespace {

struct DtypeEntry {
    StDtype dtype;
    const char* name;
    size_t size;
};
constexpr DtypeEntry kDtypes[] = {
    {StDtype::BOOL, "BOOL", 1}, {StDtype::U8, "U8", 1},     {StDtype::I8, "I8", 1},
    {StDtype::I16, "I16", 2},   {StDtype::I32, "I32", 4},   {StDtype::I64, "I64", 8},
    {StDtype::F16, "F16", 2},   {StDtype::BF16, "BF16", 2}, {StDtype::F32, "F32", 4},
    {StDtype::F64, "F64", 8},
};

const char* kHint =
    "the file is corrupt or was not written by a safetensors writer; "
    "re-download or re-export it";

[[noreturn]] void bad(const std::string& source, const std::string& what) {
    throw_invalid(source + ": invalid safetensors file: " + what, kHint);
}

}  // namespace

const char* st_dtype_name(StDtype dtype) {
    for (const auto& e : kDtypes)
        if (e.dtype == dtype) return e.name;
    return "?";
}

size_t st_dtype_size(StDtype dtype) {
    for (const auto& e : kDtypes)
        if (e.dtype == dtype) return e.size;
    return 0;
}

StDtype st_dtype_from_name(const std::string& name, const std::string& where) {
    for (const auto& e : kDtypes)
        if (name == e.name) return e.dtype;
    throw_invalid(where + ": unknown or unsupported dtype '" + name + "'",
                  "llmtune reads BOOL, U8, I8, I16, I32, I64, F16, BF16, F32 and F64 tensors");
}

int64_t StTensorInfo::numel() const {
    int64_t n = 1;
    for (int64_t d : shape)
        n *= d;
    return n;
}

const StTensorInfo* StHeader::find(const std::string& name) const {
    for (const auto& t : tensors)
        if (t.name == name) return &t;
    return nullptr;
}

StHeader parse_st_header(const uint8_t* data, size_t file_size, const std::string& source) {
    if (file_size < 8)
        bad(source, "truncated: the file has " + std::to_string(file_size) +
                        " bytes, fewer than the 8-byte header length");
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i)
        n = (n << 8) | data[i];  // little-endian
    if (n > kMaxStHeaderBytes)
        bad(source, "header length " + std::to_string(n) + " exceeds the " +
                        std::to_string(kMaxStHeaderBytes) + "-byte limit");
    if (n > file_size - 8)
        bad(source, "truncated: the header claims " + std::to_string(n) + " bytes but only " +
                        std::to_string(file_size - 8) + " follow");
    std::string text(reinterpret_cast<const char*>(data + 8), static_cast<size_t>(n));
    json header;
    try {
        header = json::parse(text);
    } catch (const json::exception& e) {
        bad(source, std::string("header is not valid JSON (") + e.what() + ")");
    }
    if (!header.is_object()) bad(source, "header is not a JSON object");

    StHeader out;
    out.data_start = 8 + n;
    const uint64_t buffer_size = file_size - out.data_start;
    for (auto it = header.begin(); it != header.end(); ++it) {
        const std::string& name = it.key();
        const json& v = it.value();
        if (name == "__metadata__") {
            if (!v.is_object()) bad(source, "__metadata__ is not an object");
            for (auto m = v.begin(); m != v.end(); ++m) {
                if (!m.value().is_string())
                    bad(source, "__metadata__." + m.key() + " is not a string");
                out.metadata[m.key()] = m.value().get<std::string>();
            }
            continue;
        }
        const std::string where = source + ": tensor '" + name + "'";
        if (!v.is_object()) bad(source, "entry '" + name + "' is not an object");
        auto dt = v.find("dtype");
        auto sh = v.find("shape");
        auto off = v.find("data_offsets");
        if (dt == v.end() || !dt->is_string()) bad(source, "tensor '" + name + "' has no dtype");
        if (sh == v.end() || !sh->is_array()) bad(source, "tensor '" + name + "' has no shape");
        if (off == v.end() || !off->is_array() || off->size() != 2 ||
            !(*off)[0].is_number_unsigned() || !(*off)[1].is_number_unsigned())
            bad(source, "tensor '" + name + "' needs data_offsets [begin, end]");
        StTensorInfo t;
        t.name = name;
        t.dtype = st_dtype_from_name(dt->get<std::string>(), where);
        // Multiply with an overflow check: a hostile shape must not wrap to a small size.
        uint64_t elems = 1;
        for (const auto& d : *sh) {
            if (!d.is_number_unsigned())
                bad(source, "tensor '" + name + "' has a non-integer dimension");
            uint64_t dim = d.get<uint64_t>();
            if (dim > (uint64_t(1) << 48) || (dim != 0 && elems > (uint64_t(1) << 62) / dim))
                bad(source, "tensor '" + name + "' has an impossibly large shape");
            elems *= dim;
            t.shape.push_back(static_cast<int64_t>(dim));
        }
        t.begin = (*off)[0].get<uint64_t>();
        t.end = (*off)[1].get<uint64_t>();
        if (t.end < t.begin) bad(source, "tensor '" + name + "' has data_offsets end < begin");
        uint64_t bytes = elems * st_dtype_size(t.dtype);
        if (t.end - t.begin != bytes)
            bad(source, "tensor '" + name + "': shape/size mismatch: shape needs " +
                            std::to_string(bytes) + " bytes but data_offsets span " +
                            std::to_string(t.end - t.begin));
        if (t.end > buffer_size)
            bad(source, "tensor '" + name + "': data_offsets [" + std::to_string(t.begin) + ", " +
                            std::to_string(t.end) + "] are out of bounds (truncated file? the " +
                            "data buffer has " + std::to_string(buffer_size) + " bytes)");
        out.tensors.push_back(std::move(t));
    }
    std::sort(out.tensors.begin(), out.tensors.end(),
              [](const StTensorInfo& a, const StTensorInfo& b) { return a.begin < b.begin; });
    for (size_t i = 1; i < out.tensors.size(); ++i) {
        const auto& prev = out.tensors[i - 1];
        const auto& cur = out.tensors[i];
        if (cur.begin < prev.end)
            bad(source, "tensors '" + prev.name + "' and '" + cur.name + "' have overlapping data");
    }
    return out;
}

}  // namespace llmtune::model
