#include "service/result_files.h"

#include <cstdio>
#include <fstream>
#include <map>

#include "common/error.h"
#include "common/json_file.h"
#include "service/ids.h"

namespace llmtune::service {

namespace {

// Shortest text that reads back as the same double ("" for a missing value).
std::string number(const ordered_json& v) {
    if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
    if (!v.is_number()) return "";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", v.get<double>());
    return buf;
}

}  // namespace

std::string step_metrics_csv(const std::string& events_jsonl_path) {
    std::ifstream in(events_jsonl_path);
    if (!in) throw_io(events_jsonl_path + ": cannot read the trainer's events");
    static const char* kColumns[] = {"train_loss",  "train_mean_token_accuracy",
                                     "valid_loss",  "valid_mean_token_accuracy",
                                     "learning_rate", "tokens", "tokens_per_s"};
    std::map<int64_t, std::map<std::string, ordered_json>> rows;  // step -> column -> value
    std::string line;
    while (std::getline(in, line)) {
        auto e = ordered_json::parse(line, nullptr, false);
        if (e.is_discarded() || !e.is_object() || !e.contains("step")) continue;
        const std::string type = e.value("type", "");
        const int64_t step = e.value("step", int64_t{0});
        if (type == "train") {
            auto& r = rows[step];
            for (const char* k : {"train_loss", "train_mean_token_accuracy", "tokens", "tokens_per_s"})
                if (e.contains(k)) r[k] = e[k];
            if (e.contains("lr")) r["learning_rate"] = e["lr"];
        } else if (type == "eval") {
            auto& r = rows[step];
            for (const char* k : {"valid_loss", "valid_mean_token_accuracy"})
                if (e.contains(k)) r[k] = e[k];
        }
    }
    std::string csv = "step";
    for (const char* c : kColumns) csv += std::string(",") + c;
    csv += "\n";
    for (const auto& [step, r] : rows) {
        csv += std::to_string(step);
        for (const char* c : kColumns) {
            auto it = r.find(c);
            csv += "," + (it == r.end() ? std::string() : number(it->second));
        }
        csv += "\n";
    }
    return csv;
}

FileRecord store_result_file(MetadataStore& store, const BlobStore& blobs, const JobRecord& job,
                             const std::string& csv) {
    // The blob first: a crash before the row leaves an unreferenced blob, never a row without one.
    BlobInfo blob = blobs.put(csv);
    FileRecord f;
    f.id = new_id("file-");
    f.project_id = job.project_id;
    f.filename = "step_metrics.csv";
    f.purpose = "fine-tune-results";
    f.bytes = static_cast<int64_t>(blob.size);
    f.created_at = unix_now();
    f.blob_sha256 = blob.sha256;
    f.status = kFileProcessed;
    // Nothing to convert: its canonical form is the file itself, one record a step.
    f.canonical_sha256 = blob.sha256;
    f.canonical_bytes = f.bytes;
    int64_t lines = 0;
    for (char c : csv) lines += c == '\n';
    f.canonical_records = lines > 0 ? lines - 1 : 0;
    f.status_details = "Step metrics of " + job.id + ".";
    store.insert_file(f);
    return f;
}

}  // namespace llmtune::service
