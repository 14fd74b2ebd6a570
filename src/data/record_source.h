// Opening a dataset file as a stream of records, whatever its format.
//
// The format comes from the extension (.jsonl/.ndjson, .json, .csv, .tsv, .txt/.md, each
// optionally followed by .gz or .zst) or from --input-format; a .json file whose first line is
// a complete record is read as JSONL. Every file is sniffed first: a NUL byte in the first
// 64 KiB means a binary file, which is rejected with a message saying what llmtune reads.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "data/line_reader.h"
#include "data/record_error.h"
#include "data/text_chunker.h"

namespace llmtune::data {

enum class InputFormat { jsonl, json, csv, tsv, txt };

const char* input_format_name(InputFormat f);
// "jsonl", "json", "csv", "tsv", "txt"; invalid_input otherwise.
InputFormat parse_input_format(const std::string& name);

struct SourceOptions {
    std::string input_format;  // "" = detect
    std::string columns;       // CSV/TSV: --columns, "" = detect from the header
    size_t max_line_bytes = kDefaultMaxLineBytes;  // longest line / record / CSV row
    size_t chunk_bytes = kDefaultChunkBytes;       // .txt chunk size
};

struct OpenedSource {
    std::unique_ptr<RecordSource> source;
    InputFormat format = InputFormat::jsonl;
    std::string compression;  // none, gzip, zstd
    std::string columns;      // CSV: the mapping used, "prompt=q,completion=a"
    std::vector<std::string> unused_columns;
};

// Detects the format (unless given) and opens the file. Errors: not_found, io, invalid_input
// (binary file, unknown format, unusable CSV header).
OpenedSource open_record_source(const std::string& path, const SourceOptions& options);

}  // namespace llmtune::data
