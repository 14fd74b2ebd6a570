#include "train/train_data.h"

#include <filesystem>

#include "common/error.h"
#include "data/chat_encoding.h"
#include "data/dataset.h"
#include "data/packing.h"
#include "data/split.h"
#include "tokenizer/tokenizer_files.h"
#include "train/file_hash.h"

namespace fs = std::filesystem;

namespace llmtune::train {

namespace {

struct FileRecords {
    std::vector<data::CanonicalRecord> records;
    std::vector<uint64_t> hashes;
    std::vector<std::string> where;  // "file record N" for error messages
};

// Where each record came from: its file's index in PreparedData::files, and its name.
struct Origin {
    size_t file = 0;
    std::string where;
};

FileRecords read_records(const std::string& path) {
    data::DataOptions options;  // strict: any invalid record fails the run
    FileRecords out;
    auto report = data::scan_dataset(
        path, options,
        [&](data::RecordKind kind, const std::string& line) {
            out.records.push_back({kind, ordered_json::parse(line)});
            out.where.push_back(path + " record " + std::to_string(out.records.size()));
        },
        &out.hashes);
    data::enforce_strictness(report, options);
    for (const auto& r : out.records)
        if (r.kind == data::RecordKind::preference)
            throw_invalid(path + " holds preference records (prompt/chosen/rejected)",
                          "supervised fine-tuning needs chat or text records; preference "
                          "training is not supported by llmtune train");
    return out;
}

struct EncodeCounts {
    int64_t truncated_examples = 0, truncated_tokens = 0, no_targets = 0;
    int64_t no_targets_truncated = 0;  // of those, truncation removed every target
};

// Encodes records, dropping (and counting) examples without a trained token.
std::vector<data::TrainingExample> encode_all(const data::ExampleEncoder& encoder,
                                              const std::vector<data::CanonicalRecord>& records,
                                              const std::vector<Origin>& origins,
                                              std::vector<DatasetFileInfo>& files,
                                              const std::string& role, EncodeCounts& counts) {
    std::vector<data::TrainingExample> out;
    out.reserve(records.size());
    for (size_t i = 0; i < records.size(); ++i) {
        data::TrainingExample ex = encoder.encode(records[i], origins[i].where);
        if (ex.truncated_tokens > 0) {
            ++counts.truncated_examples;
            counts.truncated_tokens += ex.truncated_tokens;
        }
        if (ex.target_count() == 0) {
            ++counts.no_targets;
            if (ex.truncated_tokens > 0) ++counts.no_targets_truncated;
            continue;
        }
        // A file's examples are those used in its own role (a split's held-out records are
        // validation examples, not the training file's).
        if (files[origins[i].file].role == role) ++files[origins[i].file].examples;
        out.push_back(std::move(ex));
    }
    return out;
}

DatasetFileInfo file_info(const std::string& role, const std::string& path, int64_t records) {
    DatasetFileInfo f;
    f.role = role;
    f.path = fs::absolute(path).lexically_normal().string();
    f.bytes = static_cast<uint64_t>(fs::file_size(path));
    f.sha256 = sha256_file(path);
    f.records = records;
    return f;
}

std::string no_examples_message(const std::string& what, int64_t records, const EncodeCounts& c,
                                int64_t max_seq_len) {
    std::string msg =
        what + ": none of the " + std::to_string(records) + " records has a token to train on";
    if (c.no_targets_truncated > 0)
        msg += " (" + std::to_string(c.no_targets_truncated) +
               " lost every trained token to truncation at max_seq_len " +
               std::to_string(max_seq_len) + ")";
    return msg;
}

}  // namespace

PreparedData prepare_training_data(const TrainConfig& config) {
    PreparedData out;
    data::EncodeOptions eo;
    eo.max_seq_len = config.data.max_seq_len;
    eo.train_on_inputs = config.data.train_on_inputs;
    eo.honour_weights = config.data.honour_weights;
    data::ExampleEncoder encoder(config.model.path, eo);
    {
        auto summary =
            tokenizer::summarize_tokenizer(tokenizer::find_tokenizer_files(config.model.path));
        out.chat_template = summary.chat_template.value_or("");
    }

    // Training files, concatenated in the order given.
    std::vector<data::CanonicalRecord> train_records;
    std::vector<Origin> train_where, valid_where;
    std::vector<uint64_t> hashes;
    for (const auto& path : config.data.train) {
        FileRecords fr = read_records(path);
        out.files.push_back(file_info("train", path, static_cast<int64_t>(fr.records.size())));
        for (auto& r : fr.records)
            train_records.push_back(std::move(r));
        for (auto& w : fr.where)
            train_where.push_back({out.files.size() - 1, std::move(w)});
        hashes.insert(hashes.end(), fr.hashes.begin(), fr.hashes.end());
    }

    std::vector<data::CanonicalRecord> valid_records;
    if (config.data.validation_split > 0) {
        data::SplitOptions so;
        so.fraction = config.data.validation_split;
        so.seed = config.training.seed;
        const std::vector<bool> to_valid = data::plan_split(hashes, so);
        std::vector<data::CanonicalRecord> kept;
        std::vector<Origin> kept_where;
        for (size_t i = 0; i < train_records.size(); ++i) {
            (to_valid[i] ? valid_records : kept).push_back(std::move(train_records[i]));
            (to_valid[i] ? valid_where : kept_where).push_back(train_where[i]);
        }
        train_records = std::move(kept);
        train_where = std::move(kept_where);
    } else if (!config.data.validation.empty()) {
        FileRecords fr = read_records(config.data.validation);
        out.files.push_back(file_info("validation", config.data.validation,
                                      static_cast<int64_t>(fr.records.size())));
        valid_records = std::move(fr.records);
        for (auto& w : fr.where)
            valid_where.push_back({out.files.size() - 1, std::move(w)});
    }

    EncodeCounts tc;
    out.train = encode_all(encoder, train_records, train_where, out.files, "train", tc);
    out.truncated_examples = tc.truncated_examples;
    out.truncated_tokens = tc.truncated_tokens;
    out.dropped_no_targets = tc.no_targets;
    if (out.train.empty())
        throw_invalid(
            no_examples_message("training data", static_cast<int64_t>(train_records.size()), tc,
                                config.data.max_seq_len),
            tc.no_targets_truncated > 0
                ? "raise data.max_seq_len or shorten the prompts"
                : "chat records need assistant messages with weight 1 (or set "
                  "data.train_on_inputs: true)");
    if (!valid_records.empty()) {
        EncodeCounts vc;
        out.validation =
            encode_all(encoder, valid_records, valid_where, out.files, "validation", vc);
        if (out.validation.empty())
            throw_invalid(
                no_examples_message("validation data", static_cast<int64_t>(valid_records.size()),
                                    vc, config.data.max_seq_len),
                "give validation records with assistant answers");
    } else if (!config.data.validation.empty()) {
        throw_invalid(config.data.validation + " holds no records", "give a non-empty file");
    }
    return out;
}

std::vector<std::vector<int64_t>> plan_rows(const std::vector<data::TrainingExample>& examples,
                                            bool packing, int64_t max_seq_len) {
    std::vector<std::vector<int64_t>> rows;
    if (!packing) {
        rows.reserve(examples.size());
        for (size_t i = 0; i < examples.size(); ++i)
            rows.push_back({static_cast<int64_t>(i)});
        return rows;
    }
    std::vector<int64_t> lengths;
    lengths.reserve(examples.size());
    for (const auto& e : examples)
        lengths.push_back(e.size());
    data::PackingOptions po;
    po.max_seq_len = max_seq_len;
    return data::plan_packing(lengths, po);
}

Batch build_batch(const std::vector<data::TrainingExample>& examples,
                  const std::vector<std::vector<int64_t>>& rows,
                  const std::vector<int64_t>& row_ids, const BatchLayout& layout) {
    Batch b;
    if (layout.packing) {
        std::vector<std::vector<const data::TrainingExample*>> packed;
        for (int64_t r : row_ids) {
            std::vector<const data::TrainingExample*> row;
            for (int64_t i : rows[static_cast<size_t>(r)])
                row.push_back(&examples[static_cast<size_t>(i)]);
            packed.push_back(std::move(row));
        }
        b = make_packed_batch(packed, layout.max_seq_len, layout.pad_id, layout.bias_dtype,
                              layout.sliding_window);
    } else {
        std::vector<const data::TrainingExample*> padded;
        for (int64_t r : row_ids)
            padded.push_back(&examples[static_cast<size_t>(rows[static_cast<size_t>(r)][0])]);
        b = make_padded_batch(padded, layout.pad_id);
    }
    return layout.device.is_cpu() ? b : batch_to(b, layout.device);
}

}  // namespace llmtune::train
