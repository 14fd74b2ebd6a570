// ValidationReport: what `llmtune data validate|convert` found, as JSON and as text.
//
// Errors and warnings are kept up to a cap each (the totals are always exact), so a file with
// millions of bad records still yields a small report.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/json_file.h"
#include "data/dataset_stats.h"
#include "data/record_error.h"

namespace llmtune::data {

struct RecordWarning {
    uint64_t line = 0;
    std::string code;  // duplicate, empty_assistant, no_assistant, role_order, ...
    std::string message;
};

struct ValidationReport {
    std::string file;
    std::string input_format;          // jsonl, json, csv, tsv, txt
    std::string compression = "none";  // none, gzip, zstd
    std::string shape;                 // e.g. openai_chat
    std::string shape_source;          // "detected" or "--format"
    std::string columns;               // CSV: field=column mapping used

    uint64_t records_read = 0, kept = 0, dropped = 0;
    std::map<std::string, uint64_t> dropped_reasons;  // error code -> records
    std::map<std::string, uint64_t> kinds;            // chat/text/preference -> records kept

    std::vector<RecordError> errors;  // the first error_cap
    uint64_t error_total = 0;
    size_t error_cap = 100;

    std::vector<RecordWarning> warnings;  // the first warning_cap
    std::map<std::string, uint64_t> warning_counts;
    uint64_t warning_total = 0;
    size_t warning_cap = 100;

    std::string model;        // the tokenizer used for token statistics, if any
    int64_t max_seq_len = 0;  // 0 when not checked
    std::optional<TokenStats> tokens;

    bool split = false;
    uint64_t seed = 0;
    uint64_t train_records = 0, validation_records = 0;
    std::string output, validation_output;

    void add_error(RecordError e);
    void add_warning(RecordWarning w);
    // Counts `n` warnings of `code` that are not listed (the list is full).
    void add_warning_count(const std::string& code, uint64_t n);

    ordered_json to_json() const;
    std::string to_text() const;
    // "3 invalid records in FILE:" and the first `max_lines` errors, one per line.
    std::string error_summary(size_t max_lines = 20) const;
};

// "line 12, $.messages[1].content: message" (the snippet on the next line when present).
std::string format_error(const RecordError& e);

}  // namespace llmtune::data
