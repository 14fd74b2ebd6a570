// OpenAI's JSON objects for fine-tuning jobs, their events and checkpoints, and fine-tuned
// models (fine_tuning.job, fine_tuning.job.event, fine_tuning.job.checkpoint, model).
#pragma once

#include "common/json_file.h"
#include "service/metadata_store.h"

namespace llmtune::server {

ordered_json job_json(const service::JobRecord& job);
ordered_json job_event_json(const service::JobEventRecord& event);
ordered_json job_checkpoint_json(const service::JobCheckpointRecord& checkpoint);
ordered_json fine_tuned_model_json(const service::JobRecord& job);

}  // namespace llmtune::server
