#include "service/file_preview.h"

#include <sys/stat.h>

#include <algorithm>
#include <fstream>

#include "common/error.h"
#include "common/utf8.h"
#include "data/canonical_record.h"
#include "data/chat_encoding.h"
#include "data/dataset.h"
#include "service/file_service.h"
#include "service/job_service.h"
#include "service/model_catalog.h"
#include "service/service_error.h"
#include "tokenizer/tokenizer.h"

namespace llmtune::service {

namespace {

// The modification time of a file in nanoseconds, 0 when absent: a change reloads the model.
int64_t mtime_ns(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return 0;
    return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

size_t common_prefix(const std::string& a, const std::string& b) {
    size_t n = 0;
    while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
    return n;
}

}  // namespace

std::vector<PreviewSegment> trained_segments(const tokenizer::Tokenizer& tok,
                                             const std::vector<int32_t>& ids,
                                             const std::vector<uint8_t>& trained) {
    LLMTUNE_ASSERT(ids.size() == trained.size(), "one trained flag per token");
    std::vector<int64_t> all(ids.begin(), ids.end());
    std::string full = tok.decode(all, /*skip_special_tokens=*/false);
    // Each run boundary becomes a byte offset of `full`: where the decode of the tokens before
    // it stops agreeing with the whole (decoders may hold back or strip text at the end).
    std::vector<std::pair<size_t, bool>> cuts;  // (offset where a run starts, its flag)
    for (size_t i = 0; i < ids.size(); ++i) {
        if (i > 0 && trained[i] == trained[i - 1]) continue;
        size_t off = 0;
        if (i > 0) {
            std::vector<int64_t> prefix(all.begin(), all.begin() + static_cast<ptrdiff_t>(i));
            off = common_prefix(tok.decode(prefix, false), full);
            // Never cut inside a UTF-8 character: move back to its first byte.
            while (off > 0 && off < full.size() &&
                   (static_cast<unsigned char>(full[off]) & 0xC0) == 0x80)
                --off;
        }
        if (!cuts.empty() && off < cuts.back().first) off = cuts.back().first;
        cuts.emplace_back(off, trained[i] != 0);
    }
    std::vector<PreviewSegment> out;
    for (size_t k = 0; k < cuts.size(); ++k) {
        size_t begin = cuts[k].first;
        size_t end = k + 1 < cuts.size() ? cuts[k + 1].first : full.size();
        if (end <= begin) continue;
        std::string text = full.substr(begin, end - begin);
        if (!out.empty() && out.back().trained == cuts[k].second) {
            out.back().text += text;  // a run that decoded to nothing joined its neighbours
        } else {
            out.push_back({std::move(text), cuts[k].second});
        }
    }
    for (auto& s : out) s.text = utf8_lossy(s.text);
    return out;
}

// One model's encoder and tokenizer, and the file times they were loaded at.
struct FilePreviewer::Loaded {
    std::string dir;
    int64_t tokenizer_mtime = 0, config_mtime = 0;
    std::unique_ptr<data::ExampleEncoder> encoder;
    std::shared_ptr<tokenizer::Tokenizer> tokenizer;
};

FilePreviewer::FilePreviewer(FileService& files, JobService& jobs, std::string models_dir)
    : files_(files), jobs_(jobs), models_dir_(std::move(models_dir)) {}

FilePreviewer::~FilePreviewer() = default;

std::shared_ptr<const FilePreviewer::Loaded> FilePreviewer::load(const std::string& dir) {
    int64_t tok_m = std::max(mtime_ns(dir + "/tokenizer.json"), mtime_ns(dir + "/tokenizer.model"));
    int64_t cfg_m = mtime_ns(dir + "/tokenizer_config.json");
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (size_t i = 0; i < cache_.size(); ++i) {
            auto c = cache_[i];
            if (c->dir == dir && c->tokenizer_mtime == tok_m && c->config_mtime == cfg_m) {
                cache_.erase(cache_.begin() + static_cast<ptrdiff_t>(i));
                cache_.insert(cache_.begin(), c);
                return c;
            }
        }
    }
    // Loaded outside the lock: two requests may load the same model once each, harmlessly.
    auto l = std::make_shared<Loaded>();
    l->dir = dir;
    l->tokenizer_mtime = tok_m;
    l->config_mtime = cfg_m;
    l->encoder = std::make_unique<data::ExampleEncoder>(dir, data::EncodeOptions{});
    l->tokenizer = tokenizer::Tokenizer::load(dir);
    std::lock_guard<std::mutex> lock(mutex_);
    cache_.erase(std::remove_if(cache_.begin(), cache_.end(),
                                [&](const auto& c) { return c->dir == dir; }),
                 cache_.end());
    cache_.insert(cache_.begin(), l);
    if (cache_.size() > 2) cache_.resize(2);
    return l;
}

// The model whose tokenizer and chat template render the records.
FilePreviewer::ResolvedModel FilePreviewer::resolve_model(const Principal& who,
                                                         const std::string& model) {
    std::optional<BaseModel> base;
    if (model.empty()) {
        for (auto& m : list_base_models(models_dir_)) {
            if (m.llmtune.value("usable", false) && m.llmtune.value("has_tokenizer", false)) {
                base = std::move(m);
                break;
            }
        }
        if (!base)
            throw ServiceError(ErrorKind::not_found,
                               "No base model to preview with: the models dir holds no usable "
                               "model with a tokenizer.",
                               "model", "model_not_found");
    } else {
        std::string base_id = model;
        if (auto job = jobs_.find_model(who, model)) base_id = job->model;
        base = find_base_model(models_dir_, base_id);
        if (!base)
            throw ServiceError(ErrorKind::not_found, "The model '" + model + "' does not exist.",
                               "model", "model_not_found");
    }
    return {model.empty() ? base->id : model, base->path};
}

namespace {

// The file, when it has canonical records to read; invalid_input naming what is missing.
FileRecord processed_file(FileService& files, const Principal& who, const std::string& file_id,
                          const std::string& what) {
    FileRecord f = files.get(who, file_id);
    if (f.status != kFileProcessed)
        throw ServiceError(
            ErrorKind::invalid_input,
            f.status == kFileError
                ? "File " + f.id + " failed validation, so it has no records for " + what +
                      "; its report says why."
                : "File " + f.id + " is still being validated (status '" + f.status +
                      "'); its " + what + " is available once it is processed.",
            "id", "file_not_processed");
    return f;
}

}  // namespace

FilePreviewer::TokenStats FilePreviewer::token_stats(const Principal& who,
                                                     const std::string& file_id,
                                                     const std::string& model,
                                                     int64_t max_seq_len) {
    FileRecord f = processed_file(files_, who, file_id, "token statistics");
    const ResolvedModel resolved = resolve_model(who, model);
    const std::string key =
        f.canonical_sha256 + "|" + resolved.path + "|" + std::to_string(max_seq_len);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = token_stats_cache_.find(key);
        if (it != token_stats_cache_.end()) return {resolved.id, it->second};
    }
    // Counted outside the lock (seconds for a large file); a second request for the same key
    // meanwhile counts it too, harmlessly.
    data::DataOptions opts;
    opts.source.input_format = "jsonl";  // the canonical JSONL (the blob has no extension)
    opts.model = resolved.path;
    opts.max_seq_len = max_seq_len;
    auto report = data::scan_dataset(files_.content_path(who, f.id, /*canonical=*/true), opts,
                                     nullptr);
    ordered_json tokens = report.to_json().value("tokens", ordered_json::object());
    std::lock_guard<std::mutex> lock(mutex_);
    token_stats_cache_[key] = tokens;
    return {resolved.id, tokens};
}

FilePreview FilePreviewer::preview(const Principal& who, const std::string& file_id,
                                   const std::string& model, int64_t limit) {
    FileRecord f = processed_file(files_, who, file_id, "preview");

    FilePreview out;
    const ResolvedModel resolved = resolve_model(who, model);
    out.model = resolved.id;
    auto loaded = load(resolved.path);

    std::string path = files_.content_path(who, f.id, /*canonical=*/true);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw_io("the canonical records of " + f.id + " cannot be read: " + path);
    std::string line;
    for (int64_t n = 1; n <= limit && std::getline(in, line); ++n) {
        PreviewExample ex;
        ex.line = n;
        data::CanonicalRecord rec;
        rec.value = ordered_json::parse(line, nullptr, false);
        auto kind = rec.value.is_discarded() ? std::nullopt : data::canonical_kind(rec.value);
        // The canonical file is written by llmtune itself: anything else is corruption.
        if (!kind)
            throw_io("record " + std::to_string(n) + " of the canonical records of " + f.id +
                     " is not a canonical record");
        rec.kind = *kind;
        ex.kind = data::record_kind_name(rec.kind);
        ex.record = rec.value;
        if (rec.kind != data::RecordKind::preference) {
            try {
                auto t = loaded->encoder->tokens(rec, "record " + std::to_string(n));
                ex.tokens = static_cast<int64_t>(t.ids.size());
                ex.trained_tokens = std::count(t.trained.begin(), t.trained.end(), 1);
                ex.segments = trained_segments(*loaded->tokenizer, t.ids, t.trained);
            } catch (const Error& e) {
                if (e.kind() != ErrorKind::invalid_input) throw;
                ex.error = e.message();
            }
        }
        out.examples.push_back(std::move(ex));
    }
    return out;
}

}  // namespace llmtune::service
