// Runs tests/reference/tokenize_reference.mjs (the independent reference implementations) and
// returns its JSON output; fails the test with the script's stderr when it cannot run.
#pragma once

#include <string>
#include <vector>

#include "common/json_file.h"

namespace llmtune::test {

// `args` are passed to the script (e.g. "--tokenizer DIR --corpus 2000"); paths are quoted
// by the caller. Returns null JSON after an ADD_FAILURE when node or the script fails.
json run_tokenize_reference(const std::string& args);

// Writes `value` to `path` (for --texts / --ids inputs).
void write_json(const std::string& path, const json& value);

// Renders bytes for a failure message: printable ASCII as is, the rest escaped.
std::string show_bytes(const std::string& s);
std::string show_ids(const std::vector<int64_t>& ids);

}  // namespace llmtune::test
