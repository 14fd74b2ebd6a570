#include "data/record_source.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "common/error.h"
#include "data/csv_columns.h"
#include "data/json_array_reader.h"
#include "data/jsonl_reader.h"
#include "data/shape_detect.h"

namespace llmtune::data {

namespace {

const char* kFormatsHint =
    "llmtune reads .jsonl, .json, .csv, .tsv and .txt files (optionally .gz or .zst); "
    "give the format with --input-format jsonl|json|csv|tsv|txt";

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A .json file: JSONL when its first line is a complete record of a known shape (or any
// object without an array member), otherwise a JSON document.
InputFormat sniff_json(const std::string& path, size_t max_line_bytes) {
    LineReader lines(path, max_line_bytes);
    std::string line;
    while (lines.next(line)) {
        std::string_view t = line;
        if (lines.line_number() == 1 && t.substr(0, 3) == "\xEF\xBB\xBF") t.remove_prefix(3);
        size_t b = t.find_first_not_of(" \t\r");
        if (b == std::string_view::npos) continue;
        if (t[b] != '{') return InputFormat::json;
        json v;
        try {
            v = json::parse(t.begin(), t.end());
        } catch (const json::exception&) {
            return InputFormat::json;  // a pretty-printed document spans lines
        }
        if (!matching_shapes(v).empty()) return InputFormat::jsonl;
        for (auto it = v.begin(); it != v.end(); ++it)
            if (it->is_array()) return InputFormat::json;
        return InputFormat::jsonl;
    }
    return InputFormat::json;
}

}  // namespace

const char* input_format_name(InputFormat f) {
    switch (f) {
        case InputFormat::jsonl:
            return "jsonl";
        case InputFormat::json:
            return "json";
        case InputFormat::csv:
            return "csv";
        case InputFormat::tsv:
            return "tsv";
        case InputFormat::txt:
            return "txt";
    }
    return "jsonl";
}

InputFormat parse_input_format(const std::string& name) {
    for (InputFormat f : {InputFormat::jsonl, InputFormat::json, InputFormat::csv, InputFormat::tsv,
                          InputFormat::txt})
        if (name == input_format_name(f)) return f;
    throw_invalid("unknown input format '" + name + "'", "use jsonl, json, csv, tsv or txt");
}

OpenedSource open_record_source(const std::string& path, const SourceOptions& options) {
    OpenedSource out;
    // Sniff: compression, emptiness and binary content.
    {
        InputFile in(path);
        out.compression = compression_name(in.compression());
        in.refill();
        while (in.buffered().size() < 65536 && in.refill()) {
        }
        std::string_view head = in.buffered().substr(0, 65536);
        if (head.find_first_not_of(" \t\r\n") == std::string_view::npos)
            throw_invalid(path + ": the file is empty", "give a file with at least one record");
        size_t nul = head.find('\0');
        if (nul != std::string_view::npos)
            throw_invalid(path + ": looks like a binary file (a NUL byte at offset " +
                              std::to_string(nul) + ")",
                          kFormatsHint);
    }
    std::string name = path;
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    for (const char* z : {".gz", ".gzip", ".zst", ".zstd"})
        if (ends_with(name, z)) {
            name.resize(name.size() - std::strlen(z));
            break;
        }
    if (!options.input_format.empty())
        out.format = parse_input_format(options.input_format);
    else if (ends_with(name, ".jsonl") || ends_with(name, ".ndjson"))
        out.format = InputFormat::jsonl;
    else if (ends_with(name, ".json"))
        out.format = sniff_json(path, options.max_line_bytes);
    else if (ends_with(name, ".csv"))
        out.format = InputFormat::csv;
    else if (ends_with(name, ".tsv") || ends_with(name, ".tab"))
        out.format = InputFormat::tsv;
    else if (ends_with(name, ".txt") || ends_with(name, ".text") || ends_with(name, ".md"))
        out.format = InputFormat::txt;
    else
        throw_invalid(path + ": cannot tell the format from the file name", kFormatsHint);

    if (!options.columns.empty() && out.format != InputFormat::csv &&
        out.format != InputFormat::tsv)
        throw_invalid("--columns applies to CSV and TSV files, and " + path + " is " +
                          input_format_name(out.format),
                      "drop --columns, or give --input-format csv|tsv");
    switch (out.format) {
        case InputFormat::jsonl:
            out.source = std::make_unique<JsonlReader>(path, options.max_line_bytes);
            break;
        case InputFormat::json:
            out.source = std::make_unique<JsonArrayReader>(path, options.max_line_bytes);
            break;
        case InputFormat::csv:
        case InputFormat::tsv: {
            auto csv =
                std::make_unique<CsvRecordSource>(path, out.format == InputFormat::csv ? ',' : '\t',
                                                  options.columns, options.max_line_bytes);
            out.columns = csv->mapping().describe(csv->header());
            out.unused_columns = csv->mapping().unused;
            out.source = std::move(csv);
            break;
        }
        case InputFormat::txt:
            out.source =
                std::make_unique<TextChunker>(path, options.chunk_bytes, options.max_line_bytes);
            break;
    }
    return out;
}

}  // namespace llmtune::data
