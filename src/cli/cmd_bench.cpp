// llmtune bench: benchmark programs; each prints one JSON object on stdout.
#include <cstdio>

#include "bench/data_bench.h"
#include "bench/decode_bench.h"
#include "bench/tokenize_bench.h"
#include "cli/cli_common.h"
#include "common/error.h"
#include "model/loader.h"

namespace llmtune::cli {

void register_bench(CLI::App& app) {
    auto* bench = app.add_subcommand("bench",
                                     "Benchmarks; each prints one JSON object with the figure, "
                                     "a reference measured in the same run, and their ratio");
    bench->require_subcommand(1);

    struct DecodeArgs {
        bench::DecodeBenchOptions o;
        std::vector<std::string> dtypes{"f32", "bf16"};
        int threads = 2;
    };
    auto a = std::make_shared<DecodeArgs>();
    auto* decode = bench->add_subcommand("decode",
                                         "Prefill and decode tokens/s against the memory-bandwidth "
                                         "roofline (weight bytes / measured read bandwidth)");
    decode->add_option("--preset", a->o.preset, "model init preset, random weights in memory")
        ->capture_default_str();
    decode->add_option("--model", a->o.model_dir,
                       "benchmark this model directory instead of a preset");
    decode->add_option("--dtype", a->dtypes, "dtypes to run, e.g. --dtype f32 bf16")
        ->capture_default_str();
    decode->add_option("--prompt-tokens", a->o.prompt_tokens, "prefill length")
        ->capture_default_str();
    decode->add_option("--decode-tokens", a->o.decode_tokens, "tokens to decode")
        ->capture_default_str();
    decode->add_option("--repeats", a->o.repeats, "runs per dtype; the best is reported")
        ->capture_default_str();
    decode->add_option("--threads", a->threads, "CPU threads (0 = one per core)")
        ->capture_default_str();
    decode->callback([a] {
        set_threads(a->threads);
        if (a->o.repeats < 1) throw_invalid("--repeats must be >= 1");
        a->o.dtypes.clear();
        for (const auto& d : a->dtypes)
            a->o.dtypes.push_back(model::parse_dtype(d));
        std::printf("%s\n", bench::run_decode_bench(a->o).dump(2).c_str());
    });

    auto t = std::make_shared<bench::TokenizeBenchOptions>();
    auto* tok =
        bench->add_subcommand("tokenize",
                              "Encode MB/s of the tokenizer beside @lenml/tokenizers (a port of "
                              "Hugging Face tokenizers), same corpus, same run, one thread each");
    tok->add_option("--tokenizer", t->tokenizer,
                    "tokenizer directory (default: the npm Qwen3 tokenizer)");
    tok->add_option("--mb", t->megabytes, "corpus size in MB (mixed English, code, multilingual)")
        ->capture_default_str();
    tok->add_option("--reference-script", t->reference_script,
                    "the Node reference (default: tests/reference/tokenize_reference.mjs)");
    tok->add_option("--repeats", t->repeats, "warm runs; the best is reported")
        ->capture_default_str();
    tok->callback([t] {
        if (t->repeats < 1) throw_invalid("--repeats must be >= 1");
        std::printf("%s\n", bench::run_tokenize_bench(*t).dump(2).c_str());
    });

    auto d = std::make_shared<bench::DataBenchOptions>();
    auto* data = bench->add_subcommand(
        "data",
        "Dataset validation+conversion MB/s on chat JSONL (one core), beside the I/O floor "
        "(reading the lines) and a Python json validator, same file, same run");
    data->add_option("--mb", d->megabytes, "size of the generated chat JSONL in MB")
        ->capture_default_str();
    data->add_option("--token-mb", d->token_megabytes,
                     "MB converted with token statistics (tokenizer + chat template)")
        ->capture_default_str();
    data->add_option("--tokenizer", d->tokenizer,
                     "model directory for the tokenized run (default: the npm Qwen3 tokenizer)");
    data->add_option("--python", d->python, "the Python interpreter of the reference validator")
        ->capture_default_str();
    data->add_option("--repeats", d->repeats, "runs of each figure; the best is reported")
        ->capture_default_str();
    data->callback([d] { std::printf("%s\n", bench::run_data_bench(*d).dump(2).c_str()); });
}

}  // namespace llmtune::cli
