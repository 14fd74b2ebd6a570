// ModelExporter: POST /v1/models/{id}/export. A fine-tuned model is exported as a merged
// Hugging Face model or a GGUF file by a child process, `llmtune export ...` (the same binary),
// so the server stays torch-free and a crash in an export never takes it down.
//
//   <job-dir>/exports/<format>.json   the export's state (atomic writes): status queued |
//                                     running | succeeded | failed, times, error, file id
//   <job-dir>/exports/<format>/       the child's output (a .gguf file, or an HF directory
//                                     archived as one .tar) and its export.log
//
// The artifact becomes a file object of the job's project (purpose `fine-tune-export`), so it
// downloads through GET /v1/files/{id}/content and is listed and deleted like other files.
//
// Threads: each export runs on its own thread, which waits for its child; one export per
// model and format at a time (a second request returns the one in progress). stop() (the
// destructor) sends SIGTERM to every child and joins the threads; such an export is recorded
// as failed. An export found `running` at start (the server died meanwhile) is reported failed
// with that cause.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/json_file.h"
#include "service/blob_store.h"
#include "service/metadata_store.h"

namespace llmtune::service {

class ModelExporter {
  public:
    ModelExporter(MetadataStore& store, const BlobStore& blobs, std::string binary);
    ~ModelExporter();

    // Starts an export of the job's fine-tuned model in `format` (hf | gguf) unless one is
    // running or succeeded; returns the export object. `base_dir` is the base model, `job_dir`
    // the job's directory.
    ordered_json start(const JobRecord& job, const std::string& format, const std::string& base_dir,
                       const std::string& job_dir);
    // The export object; not_found when none was requested.
    ordered_json get(const JobRecord& job, const std::string& format, const std::string& job_dir);
    void stop();

  private:
    struct Running;
    void run(Running* r, JobRecord job, std::string format, std::string base_dir,
             std::string job_dir);

    MetadataStore& store_;
    const BlobStore& blobs_;
    std::string binary_;
    std::mutex mutex_;
    bool stopping_ = false;
    std::map<std::string, std::unique_ptr<Running>> running_;  // by "<job>/<format>"
};

}  // namespace llmtune::service
