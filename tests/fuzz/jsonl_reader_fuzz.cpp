// Fuzzes the JSONL and JSON-document readers and everything behind them (shape detection,
// conversion, the report): any input must either convert or raise llmtune::Error.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "common/error.h"
#include "data/dataset.h"

namespace {

std::string scratch(const char* ext) {
    return "/tmp/llmtune-fuzz-" + std::to_string(getpid()) + ext;
}

void run(const std::string& path) {
    llmtune::data::DataOptions o;
    o.skip_invalid = true;
    o.source.max_line_bytes = 1 << 20;
    try {
        auto report = llmtune::data::scan_dataset(path, o, nullptr);
        (void)report.to_json().dump();
        (void)report.to_text();
    } catch (const llmtune::Error&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    for (const char* ext : {".jsonl", ".json"}) {
        std::string path = scratch(ext);
        std::FILE* f = std::fopen(path.c_str(), "wb");
        if (!f) return 0;
        std::fwrite(data, 1, size, f);
        std::fclose(f);
        run(path);
        std::remove(path.c_str());
    }
    return 0;
}
