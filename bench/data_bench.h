// llmtune bench data: validation + conversion throughput of the dataset pipeline on chat
// JSONL, on one core, beside two references measured in the same run on the same file: the
// I/O floor (reading the file line by line) and a typical Python validator (json.loads of
// each line and a check of the messages).
#pragma once

#include <string>

#include "common/json_file.h"

namespace llmtune::bench {

struct DataBenchOptions {
    double megabytes = 200;      // size of the generated chat JSONL
    double token_megabytes = 4;  // size of the part converted with token statistics
    std::string tokenizer;       // model dir for the tokenized run; default: npm Qwen3
    std::string python = "python3";
    int repeats = 3;  // best of, for each figure
};

ordered_json run_data_bench(const DataBenchOptions& options);

}  // namespace llmtune::bench
