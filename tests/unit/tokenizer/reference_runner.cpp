#include "unit/tokenizer/reference_runner.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "support/test_support.h"

namespace llmtune::test {

json run_tokenize_reference(const std::string& args) {
    TempDir dir;
    std::string out = dir.file("reference.json");
    std::string cmd = "node '" + std::string(LLMTUNE_SOURCE_DIR) +
                      "/tests/reference/tokenize_reference.mjs' " + args + " --out '" + out + "'";
    RunResult r = run_command(cmd);
    if (r.exit_code != 0) {
        ADD_FAILURE() << "the reference script failed (exit " << r.exit_code << "): " << cmd << "\n"
                      << r.err << "\nhint: run `npm ci` in the repository root";
        return json();
    }
    return parse_json_text(read_file(out), out);
}

void write_json(const std::string& path, const json& value) {
    write_file(path, value.dump());
}

std::string show_bytes(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
            out += static_cast<char>(c);
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", c);
            out += buf;
        }
        if (out.size() > 300) {
            out += "...";
            break;
        }
    }
    return out + "\"";
}

std::string show_ids(const std::vector<int64_t>& ids) {
    std::string out = "[";
    for (size_t i = 0; i < ids.size(); ++i) {
        if (i) out += ",";
        out += std::to_string(ids[i]);
        if (i >= 60) {
            out += ",...";
            break;
        }
    }
    return out + "]";
}

}  // namespace llmtune::test
