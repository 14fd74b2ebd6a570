// JobService: the fine-tuning jobs API's logic (create, list, retrieve, cancel, pause, resume,
// events, checkpoints, fine-tuned models) over the MetadataStore and the Scheduler. Every call
// takes the caller's Principal: another project's job answers as a missing one.
#pragma once

#include <string>

#include "common/json_file.h"
#include "service/auth.h"
#include "service/metadata_store.h"
#include "service/scheduler.h"

namespace llmtune::service {

class JobService {
  public:
    JobService(MetadataStore& store, Scheduler& scheduler, std::string models_dir);

    // Checks the request body (OpenAI's fields plus `llmtune`), stores the job as
    // validating_files and wakes the scheduler. invalid_input / not_found name the param.
    JobRecord create(const Principal& who, const ordered_json& body);
    // The checks of create without storing anything: the job as create would store it, and
    // `llmtune.hardware` of the body ("local" when absent) in *hardware.
    JobRecord prepare(const Principal& who, ordered_json body, std::string* hardware);
    JobRecord get(const Principal& who, const std::string& id);
    Page<JobRecord> list(const Principal& who, const JobListQuery& q);
    JobRecord cancel(const Principal& who, const std::string& id);
    JobRecord pause(const Principal& who, const std::string& id);
    JobRecord resume(const Principal& who, const std::string& id);
    Page<JobEventRecord> events(const Principal& who, const std::string& id,
                                const std::string& after, int64_t limit);
    std::vector<JobEventRecord> events_since(const Principal& who, const std::string& id,
                                             int64_t after_seq);
    Page<JobCheckpointRecord> checkpoints(const Principal& who, const std::string& id,
                                          const std::string& after, int64_t limit);

    // A fine-tuned model of the project by id; nothing when there is none.
    std::optional<JobRecord> find_model(const Principal& who, const std::string& model);
    std::vector<JobRecord> fine_tuned_models(const Principal& who);
    // Deletes the fine-tuned model's weights (the job stays, marked deleted); not_found.
    JobRecord delete_model(const Principal& who, const std::string& model);
    // The directory holding the fine-tuned weights (LoRA adapter or full model).
    std::string output_dir(const JobRecord& job) const;
    // "lora" or "full".
    static std::string method_of(const JobRecord& job);

  private:
    MetadataStore& store_;
    Scheduler& scheduler_;
    std::string models_dir_;
};

}  // namespace llmtune::service
