// An independent, minimal GGUF reader for the tests, written from the specification (ggml's
// docs/gguf.md) without using llmtune's writer: header, metadata, tensor infos, alignment and
// data, plus decoders for F16, BF16 and Q8_0 so the tests check values, not bytes.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace llmtune::test::gguf {

struct Value {
    uint32_t type = 0;  // gguf value type of a scalar, or 9 (array)
    uint32_t elem_type = 0;  // for arrays
    uint64_t u = 0;      // unsigned ints and bool
    int64_t i = 0;       // signed ints
    double f = 0;        // floats
    std::string s;       // string
    std::vector<Value> array;
};

struct TensorInfo {
    std::string name;
    std::vector<uint64_t> dims;  // innermost first
    uint32_t type = 0;
    uint64_t offset = 0;  // relative to the data section
};

struct File {
    uint32_t version = 0;
    std::vector<std::string> key_order;
    std::map<std::string, Value> kv;
    std::vector<TensorInfo> tensors;
    uint64_t alignment = 32;
    uint64_t data_start = 0;  // absolute
    std::string bytes;        // the whole file

    const TensorInfo& tensor(const std::string& name) const {
        for (const auto& t : tensors)
            if (t.name == name) return t;
        throw std::runtime_error("no tensor " + name);
    }
    bool has_tensor(const std::string& name) const {
        for (const auto& t : tensors)
            if (t.name == name) return true;
        return false;
    }
    const Value& at(const std::string& key) const {
        auto it = kv.find(key);
        if (it == kv.end()) throw std::runtime_error("no metadata key " + key);
        return it->second;
    }
    const char* data(const TensorInfo& t) const { return bytes.data() + data_start + t.offset; }
};

class Cursor {
  public:
    explicit Cursor(const std::string& b) : b_(b) {}
    template <typename T>
    T get() {
        if (pos_ + sizeof(T) > b_.size()) throw std::runtime_error("truncated GGUF");
        T v;
        std::memcpy(&v, b_.data() + pos_, sizeof(T));  // the tests run on little-endian hosts
        pos_ += sizeof(T);
        return v;
    }
    std::string str() {
        uint64_t n = get<uint64_t>();
        if (pos_ + n > b_.size()) throw std::runtime_error("truncated GGUF string");
        std::string s = b_.substr(pos_, n);
        pos_ += n;
        return s;
    }
    uint64_t pos() const { return pos_; }

  private:
    const std::string& b_;
    uint64_t pos_ = 0;
};

inline Value read_value(Cursor& c, uint32_t type) {
    Value v;
    v.type = type;
    switch (type) {
        case 0: v.u = c.get<uint8_t>(); break;
        case 1: v.i = c.get<int8_t>(); break;
        case 2: v.u = c.get<uint16_t>(); break;
        case 3: v.i = c.get<int16_t>(); break;
        case 4: v.u = c.get<uint32_t>(); break;
        case 5: v.i = c.get<int32_t>(); break;
        case 6: v.f = c.get<float>(); break;
        case 7: {
            uint8_t b = c.get<uint8_t>();
            if (b > 1) throw std::runtime_error("bool that is not 0 or 1");
            v.u = b;
            break;
        }
        case 8: v.s = c.str(); break;
        case 9: {
            v.elem_type = c.get<uint32_t>();
            uint64_t n = c.get<uint64_t>();
            v.array.reserve(n);
            for (uint64_t k = 0; k < n; ++k) v.array.push_back(read_value(c, v.elem_type));
            break;
        }
        case 10: v.u = c.get<uint64_t>(); break;
        case 11: v.i = c.get<int64_t>(); break;
        case 12: v.f = c.get<double>(); break;
        default: throw std::runtime_error("unknown GGUF value type " + std::to_string(type));
    }
    return v;
}

// Bytes of a tensor of `n` elements of ggml type `type` (F32 0, F16 1, Q8_0 8, BF16 30).
inline uint64_t type_bytes(uint32_t type, uint64_t n) {
    switch (type) {
        case 0: return 4 * n;
        case 1:
        case 30: return 2 * n;
        case 8: return n / 32 * 34;
    }
    throw std::runtime_error("unexpected ggml type " + std::to_string(type));
}

inline File read_file(const std::string& path) {
    File f;
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path);
    f.bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    Cursor c(f.bytes);
    if (f.bytes.compare(0, 4, "GGUF") != 0) throw std::runtime_error("bad magic");
    c.get<uint32_t>();
    f.version = c.get<uint32_t>();
    const uint64_t n_tensors = c.get<uint64_t>();
    const uint64_t n_kv = c.get<uint64_t>();
    for (uint64_t k = 0; k < n_kv; ++k) {
        std::string key = c.str();
        uint32_t type = c.get<uint32_t>();
        if (f.kv.count(key)) throw std::runtime_error("duplicate key " + key);
        f.key_order.push_back(key);
        f.kv[key] = read_value(c, type);
    }
    if (f.kv.count("general.alignment")) {
        const Value& a = f.kv["general.alignment"];
        if (a.type != 4) throw std::runtime_error("general.alignment is not a uint32");
        f.alignment = a.u;
    }
    for (uint64_t k = 0; k < n_tensors; ++k) {
        TensorInfo t;
        t.name = c.str();
        uint32_t nd = c.get<uint32_t>();
        for (uint32_t d = 0; d < nd; ++d) t.dims.push_back(c.get<uint64_t>());
        t.type = c.get<uint32_t>();
        t.offset = c.get<uint64_t>();
        f.tensors.push_back(t);
    }
    f.data_start = (c.pos() + f.alignment - 1) / f.alignment * f.alignment;
    for (uint64_t p = c.pos(); p < f.data_start; ++p)
        if (f.bytes[p] != 0) throw std::runtime_error("non-zero padding before the data");
    for (const auto& t : f.tensors) {
        uint64_t n = 1;
        for (auto d : t.dims) n *= d;
        if (t.offset % f.alignment != 0) throw std::runtime_error(t.name + ": unaligned offset");
        if (f.data_start + t.offset + type_bytes(t.type, n) > f.bytes.size())
            throw std::runtime_error(t.name + ": data past the end of the file");
    }
    return f;
}

inline float half_to_float(uint16_t h) {
    const int sign = h >> 15, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    float v;
    if (exp == 0)
        v = std::ldexp(static_cast<float>(mant), -24);
    else if (exp == 31)
        v = mant ? NAN : INFINITY;
    else
        v = std::ldexp(static_cast<float>(mant + 1024), exp - 25);
    return sign ? -v : v;
}

inline float bf16_to_float(uint16_t b) {
    uint32_t bits = static_cast<uint32_t>(b) << 16;
    float v;
    std::memcpy(&v, &bits, 4);
    return v;
}

// The tensor's values as floats (Q8_0 dequantized as q * d), in storage order.
inline std::vector<float> values(const File& f, const TensorInfo& t) {
    uint64_t n = 1;
    for (auto d : t.dims) n *= d;
    const char* p = f.data(t);
    std::vector<float> out(n);
    for (uint64_t k = 0; k < n; ++k) {
        if (t.type == 0) {
            std::memcpy(&out[k], p + 4 * k, 4);
        } else if (t.type == 1 || t.type == 30) {
            uint16_t h;
            std::memcpy(&h, p + 2 * k, 2);
            out[k] = t.type == 1 ? half_to_float(h) : bf16_to_float(h);
        } else if (t.type == 8) {
            const char* block = p + (k / 32) * 34;
            uint16_t d;
            std::memcpy(&d, block, 2);
            const auto q = static_cast<int8_t>(block[2 + k % 32]);
            out[k] = q * half_to_float(d);
        } else {
            throw std::runtime_error("unexpected type");
        }
    }
    return out;
}

// The Q8_0 scale stored for block `b` of a tensor.
inline float q8_0_scale(const File& f, const TensorInfo& t, uint64_t b) {
    uint16_t d;
    std::memcpy(&d, f.data(t) + b * 34, 2);
    return half_to_float(d);
}

}  // namespace llmtune::test::gguf
