// Fuzzes config.json parsing: any input must either parse or raise llmtune::Error.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.h"
#include "common/json_file.h"
#include "model/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        auto j = llmtune::parse_json_text(std::string(reinterpret_cast<const char*>(data), size),
                                          "fuzz");
        auto cfg = llmtune::model::parse_model_config(j, "fuzz");
        // What parses must serialize and parse back.
        llmtune::model::parse_model_config(
            llmtune::json::parse(llmtune::model::model_config_to_json(cfg).dump()), "again");
        (void)llmtune::model::count_parameters(cfg);
    } catch (const llmtune::Error&) {
    }
    return 0;
}
