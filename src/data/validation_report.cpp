#include "data/validation_report.h"

#include "common/utf8.h"

#include <algorithm>
#include <cstdio>

namespace llmtune::data {

void ValidationReport::add_error(RecordError e) {
    ++error_total;
    if (errors.size() < error_cap) errors.push_back(std::move(e));
}

void ValidationReport::add_warning(RecordWarning w) {
    ++warning_total;
    ++warning_counts[w.code];
    if (warnings.size() < warning_cap) warnings.push_back(std::move(w));
}

void ValidationReport::add_warning_count(const std::string& code, uint64_t n) {
    warning_total += n;
    warning_counts[code] += n;
}

std::string format_error(const RecordError& e) {
    std::string s;
    if (e.line) s += "line " + std::to_string(e.line);
    if (!e.path.empty()) s += (s.empty() ? "" : ", ") + e.path;
    s += (s.empty() ? "" : ": ") + e.message;
    if (!e.snippet.empty()) s += "\n      near: " + e.snippet;
    return s;
}

namespace {
// Paths, messages and names can carry bytes from the user's file or command line; the JSON
// report must stay valid UTF-8 whatever they hold.
std::string text(const std::string& s) {
    return utf8_lossy(s);
}
}  // namespace

ordered_json ValidationReport::to_json() const {
    ordered_json j;
    j["file"] = text(file);
    j["input_format"] = input_format;
    j["compression"] = compression;
    j["shape"] = shape;
    j["shape_source"] = shape_source;
    if (!columns.empty()) j["columns"] = text(columns);
    ordered_json rec;
    rec["read"] = records_read;
    rec["kept"] = kept;
    rec["dropped"] = dropped;
    rec["dropped_reasons"] = ordered_json::object();
    for (const auto& [k, v] : dropped_reasons)
        rec["dropped_reasons"][k] = v;
    rec["kinds"] = ordered_json::object();
    for (const auto& [k, v] : kinds)
        rec["kinds"][k] = v;
    j["records"] = rec;
    ordered_json errs = ordered_json::array();
    for (const auto& e : errors)
        errs.push_back({{"line", e.line},
                        {"path", text(e.path)},
                        {"code", e.code},
                        {"message", text(e.message)},
                        {"snippet", text(e.snippet)}});
    j["errors"] = {{"total", error_total}, {"shown", errors.size()}, {"items", errs}};
    ordered_json warns = ordered_json::array();
    for (const auto& w : warnings)
        warns.push_back({{"line", w.line}, {"code", w.code}, {"message", text(w.message)}});
    ordered_json counts = ordered_json::object();
    for (const auto& [k, v] : warning_counts)
        counts[k] = v;
    j["warnings"] = {{"total", warning_total},
                     {"by_code", counts},
                     {"shown", warnings.size()},
                     {"items", warns}};
    if (tokens) {
        ordered_json t = tokens->to_json();
        t["model"] = text(model);
        if (max_seq_len > 0) t["max_seq_len"] = max_seq_len;
        j["tokens"] = t;
    }
    if (split)
        j["split"] = {{"seed", seed}, {"train", train_records}, {"validation", validation_records}};
    if (!output.empty()) {
        j["outputs"] = {{"train", text(output)}};
        if (!validation_output.empty()) j["outputs"]["validation"] = text(validation_output);
    }
    return j;
}

std::string ValidationReport::error_summary(size_t max_lines) const {
    std::string s = std::to_string(error_total) + " invalid record" +
                    (error_total == 1 ? "" : "s") + " in " + file + ":";
    for (size_t i = 0; i < errors.size() && i < max_lines; ++i)
        s += "\n  " + format_error(errors[i]);
    if (error_total > std::min<uint64_t>(errors.size(), max_lines))
        s += "\n  ... and " +
             std::to_string(error_total - std::min<uint64_t>(errors.size(), max_lines)) +
             " more (the report lists up to " + std::to_string(error_cap) + ")";
    return s;
}

std::string ValidationReport::to_text() const {
    std::string s;
    char buf[256];
    s += "file:    " + file + "\n";
    s +=
        "format:  " + input_format + (compression != "none" ? " (" + compression + ")" : "") + "\n";
    s += "shape:   " + (shape.empty() ? std::string("(none)") : shape) +
         (shape_source.empty() ? "" : " (" + shape_source + ")") + "\n";
    if (!columns.empty()) s += "columns: " + columns + "\n";
    std::snprintf(buf, sizeof buf, "records: %llu read, %llu kept, %llu dropped\n",
                  static_cast<unsigned long long>(records_read),
                  static_cast<unsigned long long>(kept), static_cast<unsigned long long>(dropped));
    s += buf;
    for (const auto& [k, v] : dropped_reasons)
        s += "  dropped " + std::to_string(v) + ": " + k + "\n";
    for (const auto& [k, v] : kinds)
        s += "  kept " + std::to_string(v) + " " + k + "\n";
    if (error_total) {
        s += "errors:  " + std::to_string(error_total) +
             (error_total > errors.size() ? " (first " + std::to_string(errors.size()) + " shown)"
                                          : "") +
             "\n";
        for (const auto& e : errors)
            s += "  " + format_error(e) + "\n";
    }
    if (warning_total) {
        s += "warnings: " + std::to_string(warning_total) + "\n";
        for (const auto& [k, v] : warning_counts)
            s += "  " + k + ": " + std::to_string(v) + "\n";
        for (const auto& w : warnings)
            s += "  " + (w.line ? "line " + std::to_string(w.line) + ": " : std::string()) +
                 w.message + "\n";
        if (warning_total > warnings.size())
            s += "  ... and " + std::to_string(warning_total - warnings.size()) + " more\n";
    }
    if (tokens) {
        std::snprintf(buf, sizeof buf,
                      "tokens (%s): count %lld, min %lld, mean %.1f, p50 %lld, p95 %lld, max %lld, "
                      "total %lld, trainable %lld\n",
                      model.c_str(), static_cast<long long>(tokens->count()),
                      static_cast<long long>(tokens->min()), tokens->mean(),
                      static_cast<long long>(tokens->percentile(0.5)),
                      static_cast<long long>(tokens->percentile(0.95)),
                      static_cast<long long>(tokens->max()),
                      static_cast<long long>(tokens->total()),
                      static_cast<long long>(tokens->trainable_total()));
        s += buf;
    }
    if (split)
        s += "split:   " + std::to_string(train_records) + " train, " +
             std::to_string(validation_records) + " validation (seed " + std::to_string(seed) +
             ")\n";
    if (!output.empty()) s += "output:  " + output + "\n";
    if (!validation_output.empty()) s += "validation output: " + validation_output + "\n";
    return s;
}

}  // namespace llmtune::data
