// Differential fuzzing of the chat JSONL fast path: whatever line it accepts, the general path
// (parse_record_text + convert_record) must accept too, with the same canonical line and the
// same warnings. A disagreement aborts, so libFuzzer reports it as a crash.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "data/canonical_record.h"
#include "data/chat_fast_path.h"
#include "data/jsonl_reader.h"
#include "data/shape_detect.h"

using namespace llmtune::data;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static ChatFastPath fast;
    // The line with the padding the fast path may read past its end.
    std::string text(reinterpret_cast<const char*>(data), size);
    text.reserve(size + kFastPathPadding);
    std::string line;
    std::vector<RecordWarning> warnings;
    if (!fast.convert(text, text.capacity(), line, warnings)) return 0;

    SourceRecord rec;
    parse_record_text(text, 1, rec);
    if (rec.error) {
        std::fprintf(stderr, "fast path accepted a line the general path rejects: %s\n",
                     rec.error->message.c_str());
        std::abort();
    }
    if (matching_shapes(rec.value) != std::vector<Shape>{Shape::openai_chat}) std::abort();
    Conversion c = convert_record(Shape::openai_chat, rec.value);
    if (!c.record) {
        std::fprintf(stderr, "fast path accepted a record with errors: %s\n",
                     c.errors.front().message.c_str());
        std::abort();
    }
    std::string expected = to_jsonl_line(*c.record);
    if (expected != line) {
        std::fprintf(stderr, "canonical lines differ:\n fast    %s\n general %s\n", line.c_str(),
                     expected.c_str());
        std::abort();
    }
    bool same = c.warnings.size() == warnings.size();
    for (size_t i = 0; same && i < warnings.size(); ++i)
        same = c.warnings[i].code == warnings[i].code &&
               c.warnings[i].message == warnings[i].message;
    if (!same) {
        std::fprintf(stderr, "warnings differ\n");
        std::abort();
    }
    return 0;
}
