// FileService: the Files API's logic. Uploads are streamed into the blob store; each stored
// file is validated and converted to canonical JSONL in the background (WorkQueue), moving
// from `uploaded` to `processed` or `error`.
//
// Durability: the file row (status `uploaded`) is committed only after its blob is on disk,
// and the upload is acknowledged only after the row is committed. A file still `uploaded` at
// start (the server was killed or stopped while it waited or ran) is processed again by
// recover(); processing is idempotent, and its outcome is written in one transaction that
// applies only while the file is still `uploaded` and exists.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "service/auth.h"
#include "service/blob_store.h"
#include "service/metadata_store.h"
#include "service/work_queue.h"

namespace llmtune::service {

class FileService {
  public:
    FileService(MetadataStore& store, BlobStore& blobs, WorkQueue& queue, std::string data_dir);

    // invalid_input (param "purpose") unless the purpose is "fine-tune".
    static void check_purpose(const std::string& purpose);
    // invalid_input (param "file") unless the name ends in an extension the dataset library
    // reads: .jsonl .ndjson .json .csv .tsv .tab .txt .text .md, optionally .gz/.gzip/.zst/.zstd.
    static void check_filename(const std::string& filename);

    std::unique_ptr<BlobWriter> begin_upload() const { return blobs_.begin(); }

    // Commits the upload's blob, records the file (status `uploaded`) and queues its
    // processing. Returns the record as stored.
    FileRecord create(const Principal& who, const std::string& filename,
                      const std::string& purpose, BlobWriter& upload);

    // not_found ("No such File object") for an unknown id or another project's file.
    FileRecord get(const Principal& who, const std::string& id);
    Page<FileRecord> list(const Principal& who, const ListQuery& q);
    // Deletes the record, then each of its blobs no other file references.
    FileRecord remove(const Principal& who, const std::string& id);

    // The path of the stored bytes: the upload, or the canonical JSONL (conflict while the
    // file is not `processed`).
    std::string content_path(const Principal& who, const std::string& id, bool canonical);

    // Queues every file still `uploaded`; returns how many.
    size_t recover();

    // Validates and converts one file and records the outcome (run on the queue's thread).
    void process(const FileRecord& file);

  private:
    void release_blob_if_unused(const std::string& sha256);

    MetadataStore& store_;
    BlobStore& blobs_;
    WorkQueue& queue_;
    std::string work_dir_;  // <data-dir>/work/files: a named link to the blob for processing
    // Held while a blob gains its first reference or loses its last, so a blob being
    // reused by a new upload is never removed under it.
    std::mutex blob_refs_mutex_;
};

}  // namespace llmtune::service
