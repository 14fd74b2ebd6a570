// Reading and writing safetensors files and sharded checkpoints with torch tensors.
//
// Reads are zero-copy: a tensor whose dtype llmtune asks for is a view into the mmap'ed file
// (a private copy-on-write mapping, so writing to it is safe and never touches the file).
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/mapped_file.h"
#include "model/safetensors_header.h"

namespace llmtune::model {

torch::Dtype st_dtype_to_torch(StDtype dtype);
StDtype torch_dtype_to_st(torch::Dtype dtype);

class SafetensorsFile {
  public:
    static std::shared_ptr<SafetensorsFile> open(const std::string& path);

    const StHeader& header() const { return header_; }
    const std::string& path() const { return file_->path(); }
    bool contains(const std::string& name) const { return header_.find(name) != nullptr; }

    // The tensor on the CPU in its stored dtype: a view of the mapping when its address is
    // aligned for the dtype, otherwise a copy.
    torch::Tensor tensor(const std::string& name) const;

  private:
    std::shared_ptr<MappedFile> file_;
    StHeader header_;
};

// A model's weights: model.safetensors, or the shards listed by model.safetensors.index.json.
class Checkpoint {
  public:
    // Opens the checkpoint in a Hugging Face model directory.
    static Checkpoint open_dir(const std::string& dir);

    std::vector<std::string> names() const;  // sorted
    bool contains(const std::string& name) const { return where_.count(name) > 0; }
    const StTensorInfo& info(const std::string& name) const;
    torch::Tensor tensor(const std::string& name) const;
    size_t num_files() const { return files_.size(); }

  private:
    std::vector<std::shared_ptr<SafetensorsFile>> files_;
    std::map<std::string, size_t> where_;  // tensor name -> index into files_
};

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// Writes tensors (any device, made contiguous on the CPU) atomically.
void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Writes model.safetensors, or when the total exceeds max_shard_bytes, the shards
// model-0000i-of-0000n.safetensors plus model.safetensors.index.json, as transformers does.
void write_checkpoint(const std::string& dir, const NamedTensors& tensors,
                      uint64_t max_shard_bytes = 5'000'000'000ULL);

}  // namespace llmtune::model
