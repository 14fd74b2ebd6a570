// A succeeded job's result file, as OpenAI attaches one: a CSV of step metrics, stored as a
// file object (purpose `fine-tune-results`, owned by the job's project) whose id goes into the
// job's `result_files`, downloadable through GET /v1/files/{id}/content.
//
// The rows come from the trainer's own events.jsonl (train and eval events): one row per
// optimizer step, the evaluation columns filled on the steps that evaluated. A step trained
// again after a resume (the worker restarted from an older checkpoint) keeps its last values,
// the ones the final model descends from.
#pragma once

#include <string>

#include "service/blob_store.h"
#include "service/metadata_store.h"

namespace llmtune::service {

// The CSV header: the metric names of our events.
//   step,train_loss,train_mean_token_accuracy,valid_loss,valid_mean_token_accuracy,
//   learning_rate,tokens,tokens_per_s
// An absent value is an empty field. invalid_input only for an unreadable path (io).
std::string step_metrics_csv(const std::string& events_jsonl_path);

// Stores `csv` as a processed file `step_metrics.csv` of the job's project and returns it.
FileRecord store_result_file(MetadataStore& store, const BlobStore& blobs, const JobRecord& job,
                             const std::string& csv);

}  // namespace llmtune::service
