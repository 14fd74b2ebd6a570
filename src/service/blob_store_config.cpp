#include "service/blob_store_config.h"

#include "cloud/aws_credentials.h"
#include "common/error.h"
#include "service/s3_blob_store.h"

namespace llmtune::service {

std::unique_ptr<BlobStore> open_blob_store(const StoreConfig& c, const std::string& data_dir) {
    if (c.store.empty()) {
        if (!c.s3_endpoint.empty() || !c.s3_region.empty() || c.s3_path_style)
            throw_invalid(
                "S3 settings (endpoint, region or path style) are set but the store is "
                "the local data dir",
                "set --store s3://bucket/prefix, or drop the --s3-* settings");
        return std::make_unique<LocalBlobStore>(data_dir);
    }
    if (c.store.rfind("s3://", 0) != 0)
        throw_invalid("store '" + c.store + "' is not supported",
                      "leave the store unset for <data-dir>/blobs, or give s3://bucket/prefix");
    cloud::S3Location where = cloud::parse_s3_uri(c.store);
    cloud::S3Config s3;
    s3.endpoint = c.s3_endpoint;
    s3.path_style = c.s3_path_style;
    s3.region = c.s3_region.empty() ? cloud::resolve_aws_region(c.aws_profile) : c.s3_region;
    if (s3.region.empty()) {
        if (!c.s3_endpoint.empty())
            s3.region = "us-east-1";  // S3-compatible servers accept any region; MinIO's default
        else
            throw_invalid("no AWS region for " + c.store,
                          "set --s3-region (or AWS_REGION, or region in the profile's config)");
    }
    if (c.s3_part_size < (5ull << 20) || c.s3_part_size > (5ull << 30))
        throw_invalid("the S3 part size must be 5 MiB to 5 GiB (S3's limits), not " +
                      std::to_string(c.s3_part_size) + " bytes");
    s3.part_size = c.s3_part_size;
    s3.multipart_threshold = c.s3_part_size;
    s3.credentials = cloud::resolve_aws_credentials(c.aws_profile);
    return std::make_unique<S3BlobStore>(s3, where, data_dir);
}

}  // namespace llmtune::service
