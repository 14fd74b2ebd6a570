// Where the service keeps its blobs: the settings (`--store`, `--s3-*`, `--aws-profile`) and
// the one function that turns them into a BlobStore. docs/storage.md describes the setups.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "service/blob_store.h"

namespace llmtune::service {

struct StoreConfig {
    std::string store;           // "" = <data-dir>/blobs; "s3://bucket/prefix" = S3
    std::string s3_endpoint;     // "" = AWS (https://s3.<region>.amazonaws.com); MinIO/Ceph URL
    std::string s3_region;       // "" = AWS_REGION, AWS_DEFAULT_REGION, the profile's region
    bool s3_path_style = false;  // <endpoint>/<bucket>/<key> (MinIO, Ceph) instead of vhost
    std::string aws_profile;     // "" = environment keys, then AWS_PROFILE or "default"
    uint64_t s3_part_size = 64ull << 20;  // multipart part size (and threshold)
};

// invalid_input for a store that is neither "" nor s3://bucket[/prefix], or S3 settings
// without an S3 store; the credential chain's and the bucket check's errors for S3.
std::unique_ptr<BlobStore> open_blob_store(const StoreConfig& config, const std::string& data_dir);

}  // namespace llmtune::service
