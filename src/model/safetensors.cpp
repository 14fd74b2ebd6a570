#include "model/safetensors.h"

#include <cstdio>
#include <filesystem>

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/json_file.h"

namespace fs = std::filesystem;

namespace llmtune::model {

torch::Dtype st_dtype_to_torch(StDtype dtype) {
    switch (dtype) {
        case StDtype::BOOL:
            return torch::kBool;
        case StDtype::U8:
            return torch::kUInt8;
        case StDtype::I8:
            return torch::kInt8;
        case StDtype::I16:
            return torch::kInt16;
        case StDtype::I32:
            return torch::kInt32;
        case StDtype::I64:
            return torch::kInt64;
        case StDtype::F16:
            return torch::kFloat16;
        case StDtype::BF16:
            return torch::kBFloat16;
        case StDtype::F32:
            return torch::kFloat32;
        case StDtype::F64:
            return torch::kFloat64;
    }
    LLMTUNE_ASSERT(false, "unhandled StDtype");
}

StDtype torch_dtype_to_st(torch::Dtype dtype) {
    switch (dtype) {
        case torch::kBool:
            return StDtype::BOOL;
        case torch::kUInt8:
            return StDtype::U8;
        case torch::kInt8:
            return StDtype::I8;
        case torch::kInt16:
            return StDtype::I16;
        case torch::kInt32:
            return StDtype::I32;
        case torch::kInt64:
            return StDtype::I64;
        case torch::kFloat16:
            return StDtype::F16;
        case torch::kBFloat16:
            return StDtype::BF16;
        case torch::kFloat32:
            return StDtype::F32;
        case torch::kFloat64:
            return StDtype::F64;
        default:
            throw_invalid(std::string("cannot write dtype ") + c10::toString(dtype) +
                          " to safetensors");
    }
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
    auto f = std::shared_ptr<SafetensorsFile>(new SafetensorsFile());
    f->file_ = MappedFile::open(path);
    f->header_ = parse_st_header(f->file_->data(), f->file_->size(), path);
    return f;
}

torch::Tensor SafetensorsFile::tensor(const std::string& name) const {
    const StTensorInfo* info = header_.find(name);
    if (!info) throw Error(ErrorKind::not_found, path() + ": no tensor named '" + name + "'");
    uint8_t* ptr = file_->data() + header_.data_start + info->begin;
    auto options = torch::TensorOptions().dtype(st_dtype_to_torch(info->dtype));
    if (info->numel() == 0) return torch::empty(info->shape, options);
    if (reinterpret_cast<uintptr_t>(ptr) % st_dtype_size(info->dtype) != 0) {
        // Unaligned data cannot be viewed as the element type; copy it out instead.
        auto out = torch::empty(info->shape, options);
        std::memcpy(out.data_ptr(), ptr, info->end - info->begin);
        return out;
    }
    // The deleter holds the mapping alive for as long as any view of it exists.
    auto keep = file_;
    return torch::from_blob(
        ptr, info->shape, [keep](void*) {}, options);
}

Checkpoint Checkpoint::open_dir(const std::string& dir) {
    Checkpoint ck;
    fs::path single = fs::path(dir) / "model.safetensors";
    fs::path index = fs::path(dir) / "model.safetensors.index.json";
    if (fs::exists(index)) {
        json idx = read_json_file(index.string());
        if (!idx.is_object() || !idx.contains("weight_map") || !idx["weight_map"].is_object())
            throw_invalid(index.string() + ": has no \"weight_map\" object",
                          "the index must map every tensor name to its shard file");
        std::map<std::string, size_t> file_ids;
        for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
            if (!it.value().is_string())
                throw_invalid(index.string() + ": weight_map." + it.key() + " is not a file name");
            std::string file = it.value().get<std::string>();
            if (file.find('/') != std::string::npos || file == "..")
                throw_invalid(index.string() + ": shard name '" + file +
                              "' is not a plain file name");
            if (!file_ids.count(file)) {
                file_ids[file] = ck.files_.size();
                ck.files_.push_back(SafetensorsFile::open((fs::path(dir) / file).string()));
            }
            size_t id = file_ids[file];
            if (!ck.files_[id]->contains(it.key()))
                throw_invalid(index.string() + ": tensor '" + it.key() + "' is mapped to " + file +
                                  " but that shard does not contain it",
                              "the index and the shards are out of sync; re-export the model");
            ck.where_[it.key()] = id;
        }
        return ck;
    }
    if (!fs::exists(single))
        throw Error(ErrorKind::not_found,
                    dir + ": no model.safetensors or model.safetensors.index.json",
                    "point --model at a Hugging Face model directory (PyTorch .bin "
                    "checkpoints are not read; convert them to safetensors)");
    ck.files_.push_back(SafetensorsFile::open(single.string()));
    for (const auto& t : ck.files_[0]->header().tensors)
        ck.where_[t.name] = 0;
    return ck;
}

std::vector<std::string> Checkpoint::names() const {
    std::vector<std::string> out;
    for (const auto& kv : where_)
        out.push_back(kv.first);
    return out;
}

const StTensorInfo& Checkpoint::info(const std::string& name) const {
    auto it = where_.find(name);
    if (it == where_.end()) throw Error(ErrorKind::not_found, "no tensor named '" + name + "'");
    return *files_[it->second]->header().find(name);
}

torch::Tensor Checkpoint::tensor(const std::string& name) const {
    auto it = where_.find(name);
    if (it == where_.end()) throw Error(ErrorKind::not_found, "no tensor named '" + name + "'");
    return files_[it->second]->tensor(name);
}

void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata) {
    std::vector<torch::Tensor> cpu;
    ordered_json header = ordered_json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    uint64_t offset = 0;
    for (const auto& [name, t] : tensors) {
        if (header.contains(name)) throw_invalid("duplicate tensor name '" + name + "'");
        torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
        uint64_t bytes = static_cast<uint64_t>(c.numel()) * c.element_size();
        header[name] = {{"dtype", st_dtype_name(torch_dtype_to_st(c.scalar_type()))},
                        {"shape", c.sizes().vec()},
                        {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
        cpu.push_back(std::move(c));
    }
    std::string text = header.dump();
    // Pad with spaces so the data buffer starts 8-byte aligned, as the reference writer does.
    text.append((8 - (text.size() % 8)) % 8, ' ');
    uint8_t len[8];
    uint64_t n = text.size();
    for (int i = 0; i < 8; ++i)
        len[i] = static_cast<uint8_t>(n >> (8 * i));
    AtomicFile out(path);
    out.write(len, 8);
    out.write(text.data(), text.size());
    for (const auto& c : cpu)
        out.write(c.data_ptr(), static_cast<size_t>(c.numel()) * c.element_size());
    out.commit();
}

void write_checkpoint(const std::string& dir, const NamedTensors& tensors,
                      uint64_t max_shard_bytes) {
    std::vector<NamedTensors> shards(1);
    uint64_t shard_bytes = 0, total = 0;
    for (const auto& nt : tensors) {
        uint64_t bytes = static_cast<uint64_t>(nt.second.numel()) * nt.second.element_size();
        if (shard_bytes > 0 && shard_bytes + bytes > max_shard_bytes) {
            shards.emplace_back();
            shard_bytes = 0;
        }
        shards.back().push_back(nt);
        shard_bytes += bytes;
        total += bytes;
    }
    std::map<std::string, std::string> meta{{"format", "pt"}};
    if (shards.size() == 1) {
        write_safetensors((fs::path(dir) / "model.safetensors").string(), tensors, meta);
        return;
    }
    ordered_json weight_map = ordered_json::object();
    for (size_t i = 0; i < shards.size(); ++i) {
        char name[64];
        std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
        write_safetensors((fs::path(dir) / name).string(), shards[i], meta);
        for (const auto& nt : shards[i])
            weight_map[nt.first] = name;
    }
    ordered_json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
    write_json_file((fs::path(dir) / "model.safetensors.index.json").string(), index);
}

}  // namespace llmtune::model
