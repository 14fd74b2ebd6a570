#include "service/file_service.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "common/atomic_file.h"
#include "common/error.h"
#include "data/dataset.h"
#include "service/ids.h"
#include "service/log.h"
#include "service/service_error.h"

namespace llmtune::service {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The base name with characters a path must not hold replaced; the extension is kept, since
// the dataset library takes the format from it.
std::string safe_name(const std::string& filename) {
    std::string base = filename.substr(filename.find_last_of("/\\") + 1);
    for (char& c : base)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '_';
    if (base.empty() || base == "." || base == "..") base = "upload";
    return base;
}

// Messages from the dataset library name the path it read: show the upload's name instead of
// the server's scratch path.
std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
        s.replace(pos, from.size(), to);
    return s;
}

std::string plural(uint64_t n, const char* word) {
    return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

}  // namespace

FileService::FileService(MetadataStore& store, BlobStore& blobs, WorkQueue& queue,
                         std::string data_dir)
    : store_(store), blobs_(blobs), queue_(queue), work_dir_(data_dir + "/work/files") {
    make_dirs(work_dir_);
}

void FileService::check_purpose(const std::string& purpose) {
    if (purpose.empty())
        throw_invalid_param("purpose", "Missing required parameter: 'purpose'.",
                            "missing_required_parameter");
    if (purpose != "fine-tune")
        throw_invalid_param("purpose",
                            "Invalid value for 'purpose': '" + purpose +
                                "'. llmtune stores fine-tuning data: use 'fine-tune'.");
}

void FileService::check_filename(const std::string& filename) {
    std::string name = filename;
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const char* z : {".gz", ".gzip", ".zst", ".zstd"})
        if (ends_with(name, z)) {
            name.resize(name.size() - std::string(z).size());
            break;
        }
    for (const char* ext : {".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".tab", ".txt", ".text",
                            ".md"})
        if (ends_with(name, ext) && name.size() > std::string(ext).size()) return;
    throw_invalid_param("file",
                        "Invalid file '" + filename +
                            "': llmtune reads .jsonl, .json, .csv, .tsv and .txt files "
                            "(optionally .gz or .zst).",
                        "invalid_file_format");
}

FileRecord FileService::create(const Principal& who, const std::string& filename,
                               const std::string& purpose, BlobWriter& upload) {
    check_purpose(purpose);
    check_filename(filename);
    FileRecord f;
    f.id = new_id("file-");
    f.project_id = who.project_id;
    f.filename = filename;
    f.purpose = purpose;
    f.created_at = unix_now();
    f.status = kFileUploaded;
    {
        std::lock_guard<std::mutex> lock(blob_refs_mutex_);
        BlobInfo blob = upload.commit();
        f.blob_sha256 = blob.sha256;
        f.bytes = static_cast<int64_t>(blob.size);
        store_.insert_file(f);
    }
    if (!queue_.submit("process " + f.id, [this, f] { process(f); }))
        log_event(LogLevel::warn, "file queued for the next start (server stopping)",
                  {{"file", f.id}});
    return f;
}

FileRecord FileService::get(const Principal& who, const std::string& id) {
    auto f = store_.get_file(who.project_id, id);
    if (!f) throw_no_such("File", id);
    return *f;
}

Page<FileRecord> FileService::list(const Principal& who, const ListQuery& q) {
    return store_.list_files(who.project_id, q);
}

FileRecord FileService::remove(const Principal& who, const std::string& id) {
    std::lock_guard<std::mutex> lock(blob_refs_mutex_);
    auto f = store_.delete_file(who.project_id, id);
    if (!f) throw_no_such("File", id);
    release_blob_if_unused(f->blob_sha256);
    if (!f->canonical_sha256.empty()) release_blob_if_unused(f->canonical_sha256);
    return *f;
}

void FileService::release_blob_if_unused(const std::string& sha256) {
    // Caller holds blob_refs_mutex_. The row is gone first: a crash between the two steps
    // leaves an unreferenced blob (wasted space), never a row without its blob.
    if (store_.blob_references(sha256) == 0) blobs_.remove(sha256);
}

std::string FileService::content_path(const Principal& who, const std::string& id,
                                      bool canonical) {
    FileRecord f = get(who, id);
    if (!canonical) return blobs_.path(f.blob_sha256);
    if (f.status != kFileProcessed)
        throw ServiceError(ErrorKind::conflict,
                           "File " + id + " has no canonical form: its status is '" + f.status +
                               "'.",
                           "id", "file_not_processed");
    return blobs_.path(f.canonical_sha256);
}

size_t FileService::recover() {
    auto pending = store_.files_with_status(kFileUploaded);
    for (const auto& f : pending) queue_.submit("process " + f.id, [this, f] { process(f); });
    if (!pending.empty())
        log_event(LogLevel::info, "re-processing files left uploaded by the last run",
                  {{"files", pending.size()}});
    return pending.size();
}

void FileService::process(const FileRecord& file) {
    // The dataset library takes the format from the name: link the blob under the upload's name.
    std::string dir = work_dir_ + "/" + file.id;
    std::error_code ec;
    fs::remove_all(dir, ec);
    make_dirs(dir);
    std::string link = dir + "/" + safe_name(file.filename);
    fs::create_symlink(blobs_.path(file.blob_sha256), link, ec);
    if (ec) throw_io(link + ": cannot link the upload for processing: " + ec.message());

    FileProcessingResult result;
    std::unique_ptr<BlobWriter> canonical;
    try {
        data::DataOptions opts;
        canonical = blobs_.begin();
        int64_t records = 0;
        auto report = data::scan_dataset(
            link, opts, [&](const auto&, const std::string& line) {
                if (queue_.stopping())
                    throw Error(ErrorKind::cancelled, "server stopping");
                canonical->write(line.data(), line.size());
                canonical->write("\n", 1);
                ++records;
            });
        report.file = file.filename;  // not the link's path
        result.report_json = report.to_json().dump();
        if (report.error_total > 0 || report.kept == 0) {
            result.status = kFileError;
            result.status_details =
                report.kept == 0 && report.error_total == 0
                    ? "No valid record in " + file.filename + "."
                    : report.error_summary(5);
        } else {
            BlobInfo blob;
            {
                std::lock_guard<std::mutex> lock(blob_refs_mutex_);
                blob = canonical->commit();
                result.status = kFileProcessed;
                result.canonical_sha256 = blob.sha256;
                result.canonical_bytes = static_cast<int64_t>(blob.size);
                result.canonical_records = records;
                result.status_details =
                    plural(report.records_read, "record") + " read (" + report.input_format +
                    ", " + report.shape + "): " + std::to_string(report.kept) + " kept, " +
                    std::to_string(report.dropped) + " dropped, " +
                    plural(report.warning_total, "warning") + ".";
                if (!store_.finish_file_processing(file.id, result))
                    release_blob_if_unused(blob.sha256);  // deleted while processing
            }
            fs::remove_all(dir, ec);
            log_event(LogLevel::info, "file processed",
                      {{"file", file.id}, {"status", result.status}, {"records", records}});
            return;
        }
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::cancelled) {
            fs::remove_all(dir, ec);
            log_event(LogLevel::info, "file processing interrupted; it is redone at the next start",
                      {{"file", file.id}});
            return;
        }
        // A file the dataset library cannot read at all (ambiguous shape, binary, broken
        // structure) is the user's error; so is anything else it reports while reading.
        result.status = kFileError;
        result.status_details = replace_all(e.message(), link, file.filename);
        if (result.report_json.empty())
            result.report_json =
                ordered_json{{"file", file.filename},
                             {"error", {{"kind", error_kind_name(e.kind())},
                                        {"message", result.status_details},
                                        {"hint", e.hint()}}}}
                    .dump();
    } catch (const std::exception& e) {
        result.status = kFileError;
        result.status_details = std::string("internal error while processing the file: ") + e.what();
        if (result.report_json.empty())
            result.report_json = ordered_json{{"file", file.filename},
                                              {"error", {{"kind", "internal"}, {"message", e.what()}}}}
                                     .dump();
    }
    canonical.reset();
    store_.finish_file_processing(file.id, result);
    fs::remove_all(dir, ec);
    log_event(LogLevel::info, "file processed",
              {{"file", file.id}, {"status", result.status}, {"details", result.status_details}});
}

}  // namespace llmtune::service
