// Hardware profiles: what the estimator knows of a machine. Torch-free.
//
// Two sources:
//   - the local machine, measured by `llmtune bench device` and stored as
//     <data-dir>/hardware/local.json (GEMM FLOP/s per dtype at the measured thread count,
//     read bandwidth, RAM, the process's own RSS before any model);
//   - a catalog of cloud instance types (data/hardware_catalog.yaml, compiled into the binary;
//     a file may replace it): accelerator model and count, memory, peak bf16 FLOP/s from the
//     vendor's data sheet and the on-demand price per hour, each price with its source URL and
//     the date it was read.
//
// A measured profile has sustained rates; a catalog entry has peak rates only, so the
// estimator never treats one as the other (see estimator.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/json_file.h"

namespace llmtune::train {

struct HardwareProfile {
    std::string name;                 // "local", "aws-sagemaker/ml.g5.xlarge", ...
    std::string kind = "cpu";         // cpu | gpu
    std::string provider;             // local | aws-sagemaker | lambda | gcp | ...
    std::string accelerator;          // "NVIDIA A10G", or the CPU model
    int64_t accelerator_count = 1;    // GPUs (or 1 for a CPU machine)
    double accelerator_memory_bytes = 0;  // per GPU; for a CPU machine its RAM
    double host_memory_bytes = 0;
    // FLOP/s of one accelerator (a CPU machine counts as one). Measured profiles: sustained
    // GEMM rate at `threads`; catalog entries: the data sheet's dense peak (bf16 only).
    double flops_f32 = 0;
    double flops_bf16 = 0;
    bool measured = false;
    double memory_bandwidth = 0;      // bytes/s (measured read bandwidth, or the data sheet's)
    int threads = 0;                  // measured profiles
    double runtime_bytes = 0;         // measured: RSS of the process before any model
    std::optional<double> price_per_hour;  // on-demand USD per instance-hour
    std::string price_source;         // URL
    std::string price_date;           // YYYY-MM-DD the price was read
    std::string measured_at;          // ISO date of the measurement
    std::string spec_source;          // where the FLOP/s, memory and bandwidth figures come from
    std::string notes;

    double flops(int64_t dtype_bytes) const { return dtype_bytes == 2 ? flops_bf16 : flops_f32; }
    ordered_json to_json() const;
};

// A local profile as `llmtune bench device` writes it; invalid_input naming a missing or bad key.
HardwareProfile parse_hardware_profile(const json& j, const std::string& source);

// The data dir: --data-dir, else $LLMTUNE_DATA_DIR, else ./llmtune-data (as `llmtune serve`).
std::string resolve_data_dir(const std::string& flag);
std::string local_profile_path(const std::string& data_dir);
// not_found with the command that creates it when the file is missing.
HardwareProfile load_local_profile(const std::string& data_dir);
void save_local_profile(const std::string& data_dir, const HardwareProfile& profile);

// The catalog: a YAML list under `instances:`. invalid_input naming the entry and key of every
// problem (a price without its source or date, a negative number, a duplicate name, ...).
std::vector<HardwareProfile> parse_hardware_catalog(const std::string& yaml_text,
                                                    const std::string& source);
// The catalog compiled into the binary (data/hardware_catalog.yaml at build time).
const std::string& builtin_hardware_catalog_yaml();
// `path` = "" reads the built-in catalog.
std::vector<HardwareProfile> load_hardware_catalog(const std::string& path = "");

// "local" loads the measured profile from the data dir; anything else is looked up in the
// catalog (exact name, or the part after "provider/" when that is unique). not_found listing
// the known names otherwise.
HardwareProfile find_hardware(const std::string& name, const std::vector<HardwareProfile>& catalog,
                              const std::string& data_dir);

}  // namespace llmtune::train
