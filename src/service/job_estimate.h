// JobEstimator: time, memory and cost estimates for fine-tuning jobs (issue 8's API), from the
// estimator of train/estimator.h, which is torch-free.
//
// Inputs: the base model's config.json; the training (and validation) file's token
// statistics, counted with the base model's tokenizer and chat template over the file's
// canonical JSONL (rows_from_token_stats turns them into row shapes, so padding is
// approximated from the mean length); the job's resolved hyperparameters ("auto" resolved by
// the same rules as the scheduler, from the file's record count); and the hardware:
// `llmtune.hardware` in the request ("local", the default, is this machine's profile measured
// by `llmtune bench device`; anything else names a catalog entry, data/hardware_catalog.yaml).
//
// Token statistics are cached per (file content, model, max_seq_len), so estimating a job
// after estimating its request does not tokenize the file again.
//
// Threads: every method may be called from any thread (the cache has its own mutex).
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/json_file.h"
#include "service/auth.h"
#include "service/blob_store.h"
#include "service/metadata_store.h"
#include "train/hardware_profile.h"

namespace llmtune::service {

class JobEstimator {
  public:
    JobEstimator(MetadataStore& store, const BlobStore& blobs, std::string models_dir,
                 std::string data_dir);

    // `llmtune.hardware` of a create-job body ("local" when absent), removed from the body so
    // the rest parses as a job spec. invalid_input (param llmtune.hardware) when not a string.
    static std::string take_hardware(ordered_json& body);

    // The estimate of a job that is checked but not stored (POST .../jobs/estimate): the
    // files must be processed (400 file_not_processed otherwise). Errors name the param.
    ordered_json estimate(const JobRecord& job, const std::string& hardware);

    // Estimates a stored job and records the result (set_job_estimate): the estimate, or
    // {"status": "unavailable", "error": ...} when it cannot be made (no local profile, ...).
    void estimate_and_store(const JobRecord& job);

  private:
    struct Stats {
        int64_t count = 0;
        double mean = 0;
        double trainable_fraction = 0;
        int64_t total = 0;
    };
    Stats token_stats(const FileRecord& file, const std::string& model_dir, int64_t max_seq_len,
                      const std::string& param);

    MetadataStore& store_;
    const BlobStore& blobs_;
    std::string models_dir_;
    std::string data_dir_;
    std::vector<train::HardwareProfile> catalog_;
    std::mutex mutex_;
    std::map<std::string, Stats> stats_cache_;
};

}  // namespace llmtune::service
