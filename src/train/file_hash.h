// SHA-256 of files, for the manifest's lineage and for refusing a resume on changed inputs.
// Uses OpenSSL's EVP digest (libssl-dev), streaming in 1 MiB blocks. Torch-free.
#pragma once

#include <string>
#include <vector>

namespace llmtune::train {

// Lowercase hex SHA-256 of the file's bytes; not_found / io errors name the file.
std::string sha256_file(const std::string& path);
// Lowercase hex SHA-256 of a string.
std::string sha256_text(const std::string& text);

struct FileHash {
    std::string file;  // the name relative to the hashed directory (or the path given)
    uint64_t bytes = 0;
    std::string sha256;
};

// The weight files of a Hugging Face model directory (*.safetensors, sorted by name), each
// hashed whole, and one combined digest: SHA-256 over the lines "<sha256>  <name>\n" in that
// order (sha256sum's format), so one value names the exact weights.
struct ModelHash {
    std::vector<FileHash> files;
    std::string combined;
};
ModelHash hash_model_weights(const std::string& model_dir);

}  // namespace llmtune::train
