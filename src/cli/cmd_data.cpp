// llmtune data validate|convert|preview: datasets in any common shape, checked and converted
// to canonical JSONL (src/data/).
#include <cstdio>
#include <memory>

#include "cli/cli_common.h"
#include "common/error.h"
#include "common/json_file.h"
#include "data/dataset.h"
#include "data/shape_detect.h"
#include "tokenizer/jinja/chat_template.h"

namespace llmtune::cli {

namespace {

struct DataArgs {
    std::string file, model, format, columns, input_format;
    int64_t max_seq_len = 0;
    size_t max_line_mb = 64;
    size_t chunk_bytes = data::kDefaultChunkBytes;
    bool skip_invalid = false, json = false;
};

void add_input_options(CLI::App* cmd, DataArgs& a) {
    cmd->add_option("FILE", a.file,
                    "the dataset: .jsonl, .json, .csv, .tsv or .txt, optionally .gz or .zst")
        ->required();
    cmd->add_option("--format", a.format,
                    "the record shape instead of detecting it: " + data::shape_names());
    cmd->add_option("--columns", a.columns,
                    "CSV/TSV column mapping, e.g. prompt=question,completion=answer (fields: "
                    "prompt, completion, "
                    "instruction, input, output, text, system, chosen, rejected)");
    cmd->add_option(
        "--input-format", a.input_format,
        "the file format instead of taking it from the extension: jsonl, json, csv, tsv, txt");
    cmd->add_option("--max-line-mb", a.max_line_mb,
                    "the longest line or record accepted, in MiB (default 64)")
        ->check(CLI::Range(1, 4096));
    cmd->add_option("--chunk-bytes", a.chunk_bytes,
                    "size of the chunks a .txt file is cut into (default 4096)")
        ->check(CLI::Range(16, 1 << 30));
}

data::DataOptions options_from(const DataArgs& a) {
    data::DataOptions o;
    o.source.input_format = a.input_format;
    o.source.columns = a.columns;
    o.source.max_line_bytes = a.max_line_mb << 20;
    o.source.chunk_bytes = a.chunk_bytes;
    o.format = a.format;
    o.skip_invalid = a.skip_invalid;
    o.model = a.model;
    o.max_seq_len = a.max_seq_len;
    o.progress = true;  // drawn only when stderr is a terminal
    return o;
}

void print_report(const data::ValidationReport& r, bool as_json, std::FILE* to = stdout) {
    if (as_json)
        std::fprintf(to, "%s\n", r.to_json().dump(2).c_str());
    else
        std::fprintf(to, "%s", r.to_text().c_str());
}

void register_validate(CLI::App& data_cmd) {
    auto a = std::make_shared<DataArgs>();
    auto* cmd = data_cmd.add_subcommand(
        "validate", "Check a dataset and print a report of what is wrong and where");
    add_input_options(cmd, *a);
    cmd->add_option("--model", a->model,
                    "a model directory: token statistics with its tokenizer and chat template");
    cmd->add_option("--max-seq-len", a->max_seq_len,
                    "warn about records longer than this many tokens (needs --model)")
        ->check(CLI::PositiveNumber);
    cmd->add_flag("--skip-invalid", a->skip_invalid,
                  "succeed when some records are invalid (they are still listed)");
    cmd->add_flag("--json", a->json, "print the report as JSON");
    cmd->callback([a] {
        auto opts = options_from(*a);
        auto report = data::scan_dataset(a->file, opts, nullptr);
        print_report(report, a->json);
        if (report.error_total > 0 && !opts.skip_invalid)
            throw_invalid(std::to_string(report.error_total) + " invalid record" +
                              (report.error_total == 1 ? "" : "s") + " in " + a->file +
                              " (listed in the report)",
                          "fix them, or convert with --skip-invalid to drop them");
        data::enforce_strictness(report, opts);
    });
}

void register_convert(CLI::App& data_cmd) {
    struct Args : DataArgs {
        std::string out, validation_out, report, split;
        uint64_t seed = 0;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = data_cmd.add_subcommand(
        "convert", "Convert a dataset to canonical JSONL (written atomically)");
    add_input_options(cmd, *a);
    cmd->add_option("--out", a->out,
                    "the canonical JSONL to write (the training records with --split)")
        ->required();
    cmd->add_option(
        "--split", a->split,
        "hold out a validation set: a fraction below 1 (0.1) or a record count (500); exact "
        "duplicates stay on one side");
    cmd->add_option("--seed", a->seed,
                    "seed of the split (default 0); the same seed gives the same split");
    cmd->add_option(
        "--validation-out", a->validation_out,
        "where the validation records go (default: OUT with .jsonl replaced by .validation.jsonl)");
    cmd->add_flag("--skip-invalid", a->skip_invalid,
                  "drop invalid records (listed in the report) instead of failing");
    cmd->add_option("--report", a->report,
                    "also write the report as JSON to this file (written on failure too)");
    cmd->add_option("--model", a->model, "a model directory: token statistics in the report");
    cmd->add_option("--max-seq-len", a->max_seq_len,
                    "warn about records longer than this many tokens (needs --model)")
        ->check(CLI::PositiveNumber);
    cmd->add_flag("--json", a->json, "print the report as JSON");
    cmd->callback([a] {
        data::SplitOptions split;
        if (!a->split.empty()) split = data::parse_split(a->split, a->seed);
        data::ConvertOutputs outputs{a->out, a->validation_out, a->report};
        auto report = data::convert_dataset(a->file, options_from(*a), outputs, split);
        print_report(report, a->json);
    });
}

void register_preview(CLI::App& data_cmd) {
    struct Args : DataArgs {
        size_t n = 5;
    };
    auto a = std::make_shared<Args>();
    auto* cmd =
        data_cmd.add_subcommand("preview", "Show the first records as they will be trained");
    add_input_options(cmd, *a);
    cmd->add_option("-n", a->n, "how many records to show (default 5)")
        ->check(CLI::Range(1, 100000));
    cmd->add_option("--model", a->model,
                    "a model directory: also show each chat record rendered by its chat template");
    cmd->callback([a] {
        auto opts = options_from(*a);
        opts.skip_invalid = true;
        opts.progress = false;
        std::unique_ptr<tokenizer::ChatTemplate> tmpl;
        tokenizer::ChatTemplateInputs base;
        if (!a->model.empty()) {
            tmpl = std::make_unique<tokenizer::ChatTemplate>(
                tokenizer::ChatTemplate::from_tokenizer_config(a->model));
            tokenizer::load_special_tokens(a->model, base);
        }
        opts.model.clear();  // no token statistics in a preview
        size_t shown = 0;
        auto report = data::scan_dataset(
            a->file, opts,
            [&](data::RecordKind kind, const std::string& line) {
                data::CanonicalRecord r{kind, ordered_json::parse(line)};
                ++shown;
                std::printf("--- record %zu (%s)\n%s\n", shown, data::record_kind_name(r.kind),
                            r.value.dump(2).c_str());
                if (tmpl && r.kind != data::RecordKind::text) {
                    tokenizer::ChatTemplateInputs in = base;
                    in.messages =
                        r.kind == data::RecordKind::chat ? r.value["messages"] : r.value["prompt"];
                    if (r.kind == data::RecordKind::preference)
                        for (const auto& m : r.value["chosen"])
                            in.messages.push_back(m);
                    if (r.value.contains("tools")) in.tools = r.value["tools"];
                    std::printf("--- rendered by the chat template\n%s\n",
                                tmpl->render(in).c_str());
                }
            },
            nullptr, a->n);
        std::printf("--- %zu record%s shown; shape %s (%s), format %s\n", shown,
                    shown == 1 ? "" : "s", report.shape.c_str(), report.shape_source.c_str(),
                    report.input_format.c_str());
        for (const auto& e : report.errors)
            std::fprintf(stderr, "invalid: %s\n", data::format_error(e).c_str());
    });
}

}  // namespace

void register_data(CLI::App& app) {
    auto* data_cmd =
        app.add_subcommand("data", "Validate, convert and preview fine-tuning datasets");
    data_cmd->require_subcommand(1);
    register_validate(*data_cmd);
    register_convert(*data_cmd);
    register_preview(*data_cmd);
}

}  // namespace llmtune::cli
