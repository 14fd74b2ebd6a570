// Fuzzes tokenizer.json loading and use: any input must load or raise llmtune::Error; what
// loads must encode and decode without crashing.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.h"
#include "common/json_file.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    try {
        auto j = llmtune::parse_json_text(text, "fuzz");
        auto tok = llmtune::tokenizer::Tokenizer::from_json(j, "fuzz");
        for (const char* s :
             {"", "Hello world", " a  b\n\tc", "caf\xC3\xA9 \xE4\xBD\xA0\xF0\x9F\x98\x80",
              "<s>x</s><unk>", "123 4567", "don't"}) {
            auto ids = tok->encode(s);
            (void)tok->decode(ids, false);
            (void)tok->decode_text(ids, true);
            (void)tok->pieces(ids);
        }
        std::vector<int64_t> all;
        for (int64_t id = 0; id < tok->vocab_size() && id < 300; ++id)
            all.push_back(id);
        (void)tok->decode_text(all, false);
    } catch (const llmtune::Error&) {
    }
    return 0;
}
