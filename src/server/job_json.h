// OpenAI's JSON objects for fine-tuning jobs, their events and checkpoints, and fine-tuned
// models (fine_tuning.job, fine_tuning.job.event, fine_tuning.job.checkpoint, model).
#pragma once

#include <string>

#include "common/json_file.h"
#include "service/metadata_store.h"

namespace llmtune::server {

ordered_json job_json(const service::JobRecord& job);
// job_json(job) as compact JSON text (invalid UTF-8 replaced), from a cache of rendered jobs:
// a job is rendered again only when one of its stored fields changed. GET of a job and of the
// job list are the most frequent requests, and rendering (parsing the stored spec, estimate,
// cost and metadata, then serialising) was most of their CPU time.
std::string job_json_text(const service::JobRecord& job);
ordered_json job_event_json(const service::JobEventRecord& event);
ordered_json job_checkpoint_json(const service::JobCheckpointRecord& checkpoint);
ordered_json fine_tuned_model_json(const service::JobRecord& job);

}  // namespace llmtune::server
