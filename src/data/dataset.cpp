#include "data/dataset.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <numeric>

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/progress.h"
#include "data/chat_fast_path.h"
#include "data/convert.h"
#include "data/duplicate_finder.h"
#include "data/jsonl_reader.h"
#include "data/shape_detect.h"
#include "data/token_counter.h"

namespace llmtune::data {

namespace {

// "$.completion..." in a CSV record becomes "column \"answer\"...".
std::string map_path(const SourceRecord& rec, const std::string& path) {
    for (const auto& [field, column] : rec.field_columns) {
        std::string prefix = "$." + field;
        if (path.compare(0, prefix.size(), prefix) == 0 &&
            (path.size() == prefix.size() || path[prefix.size()] == '.' ||
             path[prefix.size()] == '['))
            return "column \"" + column + "\"" + path.substr(prefix.size());
    }
    if (!rec.location.empty() && path.compare(0, 1, "$") == 0) return rec.location + path.substr(1);
    return path;
}

std::string key_list(const json& v) {
    std::string s;
    size_t n = 0;
    for (auto it = v.begin(); it != v.end() && n < 8; ++it, ++n)
        s += (s.empty() ? "" : ", ") + it.key();
    if (v.size() > 8) s += ", ...";
    return s.empty() ? "none" : s;
}

// Lines into an AtomicFile in 1 MiB writes rather than two system calls per record.
class LineWriter {
  public:
    explicit LineWriter(AtomicFile& f) : f_(f) {}
    void line(const std::string& s) {
        buf_ += s;
        buf_ += '\n';
        if (buf_.size() >= (size_t(1) << 20)) flush();
    }
    void flush() {
        if (!buf_.empty()) f_.write(buf_.data(), buf_.size());
        buf_.clear();
    }

  private:
    AtomicFile& f_;
    std::string buf_;
};

}  // namespace

ValidationReport scan_dataset(const std::string& path, const DataOptions& options,
                              const RecordSink& sink, std::vector<uint64_t>* hashes_out,
                              size_t limit) {
    if (options.max_seq_len > 0 && options.model.empty())
        throw_invalid("--max-seq-len needs --model",
                      "give the model whose tokenizer counts the tokens");
    ValidationReport report;
    report.file = path;
    report.error_cap = options.error_cap;
    report.warning_cap = options.warning_cap;
    OpenedSource src = open_record_source(path, options.source);
    report.input_format = input_format_name(src.format);
    report.compression = src.compression;
    report.columns = src.columns;
    for (const auto& c : src.unused_columns)
        report.add_warning(
            {0, "unused_column", "the column \"" + c + "\" maps to no field and was ignored"});

    std::optional<Shape> forced;
    if (!options.format.empty()) forced = parse_shape(options.format);
    report.shape_source = forced ? "--format" : "detected";
    ShapeDetector detector(path);

    std::unique_ptr<TokenCounter> counter;
    if (!options.model.empty()) {
        counter = std::make_unique<TokenCounter>(options.model);
        report.model = options.model;
        report.max_seq_len = options.max_seq_len;
        report.tokens.emplace();
    }

    DuplicateFinder duplicates;
    std::vector<uint64_t> hashes;  // only for hashes_out (a split)
    // Progress in MiB of the file as stored (compressed bytes for .gz/.zst).
    std::unique_ptr<Progress> bar;
    uint64_t shown_mib = 0, total_mib = 0;
    if (options.progress) {
        std::error_code ec;
        auto size = std::filesystem::file_size(path, ec);
        total_mib = ec ? 0 : std::max<uint64_t>(1, size >> 20);
        bar = std::make_unique<Progress>("reading " + path, static_cast<int64_t>(total_mib), "MiB");
    }
    SourceRecord rec;
    std::string line;
    auto drop = [&](const RecordError& e) {
        ++report.dropped;
        ++report.dropped_reasons[e.code];
    };
    auto tick = [&] {
        if (bar && (report.records_read & 1023) == 0) {
            uint64_t mib = src.source->bytes_read() >> 20;
            if (mib > shown_mib) bar->advance(static_cast<int64_t>(mib - shown_mib));
            shown_mib = std::max(shown_mib, mib);
        }
    };
    // A kept record: its canonical line is in `line`. Kinds are counted here and named in
    // report.kinds after the scan (a map lookup per record was a few percent of a convert).
    uint64_t kind_counts[3] = {0, 0, 0};  // by RecordKind (chat, text, preference)
    auto keep = [&](RecordKind kind, uint64_t at) {
        ContentHash h = content_hash128(line);
        duplicates.add(h, at);
        if (hashes_out) hashes.push_back(h.lo);
        ++report.kept;
        ++kind_counts[static_cast<size_t>(kind)];
        if (sink) sink(kind, line);
    };
    // Chat JSONL lines first try the fast path (chat_fast_path.h); it takes only records it
    // converts exactly as the general path below would, and hands back all others. Token
    // statistics need the record as JSON, so they always take the general path.
    auto* jsonl = dynamic_cast<JsonlReader*>(src.source.get());
    std::unique_ptr<ChatFastPath> fast;
    if (jsonl && !counter && (!forced || *forced == Shape::openai_chat))
        fast = std::make_unique<ChatFastPath>();
    std::vector<RecordWarning> fast_warnings;
    while (true) {
        if (fast) {
            std::string_view text;
            size_t capacity = 0;
            uint64_t at = 0;
            if (!jsonl->next_text(text, capacity, at)) break;
            ++report.records_read;
            tick();
            if (fast->convert(text, capacity, line, fast_warnings)) {
                // The record's only key is "messages": it fits openai_chat and nothing else.
                if (!forced) detector.check_shape(Shape::openai_chat, at);
                for (auto& w : fast_warnings) {
                    w.line = at;
                    report.add_warning(std::move(w));
                }
                keep(RecordKind::chat, at);
                if (limit && report.kept >= limit) break;
                continue;
            }
            rec.location.clear();
            parse_record_text(text, at, rec);
        } else {
            if (!src.source->next(rec)) break;
            ++report.records_read;
            tick();
        }
        if (rec.error) {
            drop(*rec.error);
            report.add_error(*rec.error);
            continue;
        }
        Shape shape;
        if (forced) {
            shape = *forced;
        } else if (detector.check(rec.value, rec.line)) {
            shape = *detector.shape();
        } else {
            RecordError e{rec.line, rec.location.empty() ? "$" : rec.location, "unknown_shape",
                          "the record fits no known shape (its keys: " + key_list(rec.value) +
                              "); known shapes: " + shape_names(),
                          make_snippet(rec.text, 80)};
            drop(e);
            report.add_error(std::move(e));
            continue;
        }
        Conversion c = convert_record(shape, rec.value);
        if (!c.record) {
            drop(c.errors.front());
            for (auto& e : c.errors) {
                e.line = rec.line;
                e.path = map_path(rec, e.path);
                report.add_error(std::move(e));
            }
            continue;
        }
        for (auto& w : c.warnings) {
            w.line = rec.line;
            report.add_warning(std::move(w));
        }
        if (counter) {
            try {
                auto n = counter->count(*c.record);
                report.tokens->add(n.tokens, n.trainable);
                if (options.max_seq_len > 0 && n.tokens > options.max_seq_len)
                    report.add_warning({rec.line, "too_long",
                                        std::to_string(n.tokens) +
                                            " tokens, longer than --max-seq-len " +
                                            std::to_string(options.max_seq_len) + ": " +
                                            std::to_string(n.tokens - options.max_seq_len) +
                                            " tokens would be cut"});
            } catch (const Error& e) {
                if (e.kind() != ErrorKind::invalid_input) throw;
                RecordError err{rec.line, rec.location.empty() ? "$" : rec.location,
                                "template_error",
                                "the chat template rejects the record: " + e.message(),
                                make_snippet(rec.text, 80)};
                drop(err);
                report.add_error(std::move(err));
                continue;
            }
        }
        line = to_jsonl_line(*c.record);
        keep(c.record->kind, rec.line);
        if (limit && report.kept >= limit) break;
    }
    for (size_t k = 0; k < 3; ++k)
        if (kind_counts[k])
            report.kinds[record_kind_name(static_cast<RecordKind>(k))] += kind_counts[k];
    if (bar) {
        if (total_mib > shown_mib) bar->advance(static_cast<int64_t>(total_mib - shown_mib));
        bar->finish();
    }
    report.shape = forced             ? shape_name(*forced)
                   : detector.shape() ? shape_name(*detector.shape())
                                      : "";
    if (report.shape.empty() && src.format == InputFormat::txt) report.shape = "text";

    // Exact duplicates: each repeat is reported with the line of the first copy. Only as
    // many as the report can still list are kept; the rest are counted.
    size_t room = report.warnings.size() < report.warning_cap
                      ? report.warning_cap - report.warnings.size()
                      : 0;
    DuplicateFinder::Duplicates dups = duplicates.finish(room);
    for (const auto& [l, first] : dups.listed)
        report.add_warning(
            {l, "duplicate", "exact duplicate of the record at line " + std::to_string(first)});
    if (dups.total > dups.listed.size())
        report.add_warning_count("duplicate", dups.total - dups.listed.size());
    if (hashes_out) *hashes_out = std::move(hashes);
    return report;
}

void enforce_strictness(const ValidationReport& report, const DataOptions& options) {
    if (report.error_total > 0 && !options.skip_invalid)
        throw_invalid(
            report.error_summary(report.error_cap),
            "fix these records, or pass --skip-invalid to drop them (the report lists each one)");
    if (report.kept == 0)
        throw_invalid(
            report.file + ": no valid records" +
                (report.error_total ? " (" + std::to_string(report.error_total) + " invalid)" : ""),
            "check that the file holds records of a supported shape: " + shape_names());
}

ValidationReport validate_dataset(const std::string& path, const DataOptions& options) {
    ValidationReport report = scan_dataset(path, options, nullptr);
    enforce_strictness(report, options);
    return report;
}

std::string default_validation_path(const std::string& out) {
    const std::string ext = ".jsonl";
    if (out.size() > ext.size() && out.compare(out.size() - ext.size(), ext.size(), ext) == 0)
        return out.substr(0, out.size() - ext.size()) + ".validation.jsonl";
    return out + ".validation.jsonl";
}

ValidationReport convert_dataset(const std::string& path, const DataOptions& options,
                                 const ConvertOutputs& outputs, const SplitOptions& split) {
    if (outputs.out.empty()) throw_invalid("no output path", "give --out OUT.jsonl");
    auto write_report = [&](const ValidationReport& r) {
        if (!outputs.report.empty()) write_json_file(outputs.report, r.to_json());
    };
    ValidationReport report;
    if (!split.enabled()) {
        AtomicFile out(outputs.out);
        LineWriter writer(out);
        report = scan_dataset(path, options,
                              [&](RecordKind, const std::string& line) { writer.line(line); });
        try {
            enforce_strictness(report, options);
        } catch (const Error&) {
            write_report(report);
            throw;
        }
        writer.flush();
        out.commit();
        report.output = outputs.out;
        write_report(report);
        return report;
    }

    std::string val_path = outputs.validation_out.empty() ? default_validation_path(outputs.out)
                                                          : outputs.validation_out;
    if (val_path == outputs.out || val_path == path)
        throw_invalid("the validation output " + val_path +
                          " would overwrite the training output or the input",
                      "give another --validation-out");
    // Split: all records go to a scratch file first; the plan needs every hash.
    std::string all_path = outputs.out + ".all.tmp";
    struct Scratch {
        std::string path;
        std::FILE* f = nullptr;
        ~Scratch() {
            if (f) std::fclose(f);
            std::remove(path.c_str());
        }
    } scratch{all_path};
    scratch.f = std::fopen(all_path.c_str(), "wb");
    if (!scratch.f) throw_io(all_path + ": cannot create: " + errno_text(errno));
    report = scan_dataset(path, options, [&](RecordKind, const std::string& line) {
        if (std::fwrite(line.data(), 1, line.size(), scratch.f) != line.size() ||
            std::fputc('\n', scratch.f) == EOF)
            throw_io(all_path + ": write failed: " + errno_text(errno));
    });
    try {
        enforce_strictness(report, options);
    } catch (const Error&) {
        write_report(report);
        throw;
    }
    if (std::fclose(scratch.f) != 0) {
        scratch.f = nullptr;
        throw_io(all_path + ": write failed: " + errno_text(errno));
    }
    scratch.f = nullptr;
    // The plan reads the scratch file's hashes a few times instead of holding one per record,
    // and keeps a key range plus the keys near its edge; each record's side is then decided
    // from its canonical line's hash as the scratch file is read back once more.
    auto for_each_hash = [&](const std::function<void(uint64_t)>& visit) {
        LineReader lines(all_path, SIZE_MAX / 2);
        std::string l;
        while (lines.next(l))
            visit(content_hash(l));
    };
    const SplitPlan plan =
        plan_split_streaming(for_each_hash, static_cast<int64_t>(report.kept), split);
    AtomicFile train(outputs.out), val(val_path);
    LineWriter train_writer(train), val_writer(val);
    LineReader reader(all_path, SIZE_MAX / 2);
    std::string line;
    while (reader.next(line)) {
        bool to_validation = plan.to_validation(content_hash(line));
        (to_validation ? val_writer : train_writer).line(line);
        ++(to_validation ? report.validation_records : report.train_records);
    }
    LLMTUNE_ASSERT(report.validation_records + report.train_records == report.kept,
                   "the scratch file holds the scanned records");
    train_writer.flush();
    val_writer.flush();
    train.commit();
    val.commit();
    report.split = true;
    report.seed = split.seed;
    report.output = outputs.out;
    report.validation_output = val_path;
    write_report(report);
    return report;
}

}  // namespace llmtune::data
