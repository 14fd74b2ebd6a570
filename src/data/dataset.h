// The dataset pipeline: read any supported file, detect or apply its shape, convert every
// record to canonical form, and report what was found. This is the library behind
// `llmtune data validate|convert|preview` and the Files API.
//
// One streaming pass: memory stays bounded by the longest record, plus 16 bytes per record
// for duplicate detection (content hashes) and, with --split, the split plan.
//
// Strictness: scan_dataset never throws for a bad record; it records it in the report and
// drops it. validate/convert then fail with the error list unless skip_invalid is set. An
// ambiguous or mixed shape, a file that cannot be read, or broken file structure always
// throws at once.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/canonical_record.h"
#include "data/record_source.h"
#include "data/split.h"
#include "data/validation_report.h"

namespace llmtune::data {

struct DataOptions {
    SourceOptions source;
    std::string format;         // --format: a shape name (shape_detect.h); "" = detect
    bool skip_invalid = false;  // drop invalid records instead of failing
    std::string model;          // a model directory: token statistics with its tokenizer/template
    int64_t max_seq_len = 0;    // with model: warn about records longer than this; 0 = no check
    size_t error_cap = 100;     // errors listed in the report (the total is always counted)
    size_t warning_cap = 100;   // warnings listed in the report
    bool progress = false;      // a progress bar on stderr (shown only on a terminal)
};

// Called with each kept record's kind and canonical JSONL line (no newline); the line is the
// whole record (ordered_json::parse gives it back as a value).
using RecordSink = std::function<void(RecordKind, const std::string&)>;

// Reads the whole file (or until `limit` records were kept, when non-zero). `hashes`, when
// given, receives the content hash of each kept record in order.
ValidationReport scan_dataset(const std::string& path, const DataOptions& options,
                              const RecordSink& sink, std::vector<uint64_t>* hashes = nullptr,
                              size_t limit = 0);

// invalid_input (with the error list) when the report has errors and skip_invalid is not set,
// or when no record is valid.
void enforce_strictness(const ValidationReport& report, const DataOptions& options);

// scan_dataset, then invalid_input (with the error list) when there are errors and
// skip_invalid is not set, or when no record is valid.
ValidationReport validate_dataset(const std::string& path, const DataOptions& options);

struct ConvertOutputs {
    std::string out;             // canonical JSONL (the training records when splitting)
    std::string validation_out;  // with a split: "" = OUT with .jsonl -> .validation.jsonl
    std::string report;          // write the JSON report here ("" = none); written on failure too
};

// Converts `path` to canonical JSONL, atomically: on failure no output file is created or
// replaced.
ValidationReport convert_dataset(const std::string& path, const DataOptions& options,
                                 const ConvertOutputs& outputs, const SplitOptions& split = {});

// "train.jsonl" -> "train.validation.jsonl"
std::string default_validation_path(const std::string& out);

}  // namespace llmtune::data
