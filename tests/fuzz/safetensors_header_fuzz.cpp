// Fuzzes the safetensors header parser: any input must either parse or raise llmtune::Error.
// Any other exception, crash or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>

#include "common/error.h"
#include "model/safetensors_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        auto h = llmtune::model::parse_st_header(data, size, "fuzz");
        // Every accepted tensor must lie inside the input.
        for (const auto& t : h.tensors)
            if (h.data_start + t.end > size) __builtin_trap();
    } catch (const llmtune::Error&) {
    }
    return 0;
}
