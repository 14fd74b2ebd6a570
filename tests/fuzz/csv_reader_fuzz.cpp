// Fuzzes the CSV/TSV reader and column mapping through the dataset pipeline: any input must
// either convert or raise llmtune::Error.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "common/error.h"
#include "data/csv_reader.h"
#include "data/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    for (const char* ext : {".csv", ".tsv"}) {
        std::string path = "/tmp/llmtune-fuzz-" + std::to_string(getpid()) + ext;
        std::FILE* f = std::fopen(path.c_str(), "wb");
        if (!f) return 0;
        std::fwrite(data, 1, size, f);
        std::fclose(f);
        try {
            llmtune::data::CsvReader rows(path, ext[1] == 'c' ? ',' : '\t', 1 << 20);
            llmtune::data::CsvRow row;
            while (rows.next(row)) {
            }
        } catch (const llmtune::Error&) {
        }
        try {
            llmtune::data::DataOptions o;
            o.skip_invalid = true;
            o.source.max_line_bytes = 1 << 20;
            auto report = llmtune::data::scan_dataset(path, o, nullptr);
            (void)report.to_json().dump();
        } catch (const llmtune::Error&) {
        }
        std::remove(path.c_str());
    }
    return 0;
}
