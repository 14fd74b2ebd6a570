// Streaming memory: converting a file larger than 1 GiB, and meeting a 100 MiB line, must both
// stay within bounded memory. Runs the real binary and reads each child's own peak RSS from the
// kernel (wait4), so the figures are measured, not estimated.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "common/json_file.h"
#include "support/test_support.h"

using namespace llmtune;
using test::TempDir;

namespace {

struct Child {
    int exit_code = -1;
    double peak_mb = 0;  // peak RSS in MB (10^6 bytes), as the issue states the limit
    std::string err;
};

// Runs the binary with `args` (stdout discarded, stderr kept in a file) and returns its exit
// code and its own peak RSS.
Child run_measured(const std::vector<std::string>& args, const std::string& err_path) {
    std::vector<std::string> argv_s = {test::llmtune_binary()};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
        int out = open("/dev/null", O_WRONLY);
        int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out < 0 || err < 0) _exit(126);
        dup2(out, 1);
        dup2(err, 2);
        execv(argv[0], argv.data());
        _exit(127);
    }
    Child c;
    int status = 0;
    rusage u{};
    if (pid < 0 || wait4(pid, &status, 0, &u) != pid) return c;
    c.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    c.peak_mb = static_cast<double>(u.ru_maxrss) * 1024.0 / 1e6;  // ru_maxrss is in KiB
    std::ifstream e(err_path);
    c.err.assign(std::istreambuf_iterator<char>(e), std::istreambuf_iterator<char>());
    return c;
}

}  // namespace

TEST(DataMemory, OneGigabyteConvertsInBoundedMemoryAndAHugeLineFailsClearly) {
    TempDir tmp;
    const std::string path = tmp.file("big.jsonl"), err = tmp.file("err.txt");
    int64_t repeats = 0;
    {
        // ~1.5 million distinct chat records, every 50th an exact duplicate of an earlier one
        // (so duplicate detection has work to do).
        std::ofstream out(path, std::ios::binary);
        std::string filler(640, 'x');
        uint64_t written = 0;
        for (uint64_t i = 0; written < (uint64_t(1) << 30) + (uint64_t(64) << 20); ++i) {
            uint64_t id = i % 50 == 49 ? i / 2 : i;
            if (id != i && (id % 50 != 49)) ++repeats;  // record `id` holds that text
            std::string line = "{\"messages\": [{\"role\": \"user\", \"content\": \"question " +
                               std::to_string(id) +
                               "\"}, {\"role\": \"assistant\", \"content\": \"" + filler +
                               std::to_string(id) + "\"}]}\n";
            out << line;
            written += line.size();
        }
    }
    // The binary's own footprint: libtorch and its ~280 libraries, loaded by every command.
    Child base = run_measured({"data", "--help"}, err);
    ASSERT_EQ(base.exit_code, 0) << base.err;

    Child conv = run_measured(
        {"data", "convert", path, "--out", tmp.file("out.jsonl"), "--report", tmp.file("r.json")},
        err);
    ASSERT_EQ(conv.exit_code, 0) << conv.err;
    auto report = read_json_file(tmp.file("r.json"));
    EXPECT_GT(report["records"]["kept"].get<int64_t>(), 1400000);
    EXPECT_GT(repeats, 10000);
    EXPECT_EQ(report["warnings"]["by_code"]["duplicate"].get<int64_t>(), repeats);
    std::fprintf(stderr, "peak RSS: binary alone %.1f MB, converting 1.07 GiB %.1f MB\n",
                 base.peak_mb, conv.peak_mb);
    // The limit, for the whole process: under 200 MB.
    EXPECT_LT(conv.peak_mb, 200.0) << "binary alone " << base.peak_mb << " MB";
    // What the data work adds (read and write buffers, the parser, the duplicate buffer)
    // stays small and does not grow with the file (docs/architecture.md).
    EXPECT_LT(conv.peak_mb - base.peak_mb, 32.0) << "binary alone " << base.peak_mb << " MB";
    std::remove(tmp.file("out.jsonl").c_str());

    // With a split, the records go through a scratch file, which the plan reads again instead
    // of holding a key per record: the memory does not grow with the file either.
    Child split = run_measured({"data", "convert", path, "--out", tmp.file("train.jsonl"),
                                "--split", "0.1", "--report", tmp.file("rs.json")},
                               err);
    ASSERT_EQ(split.exit_code, 0) << split.err;
    auto split_report = read_json_file(tmp.file("rs.json"));
    const int64_t kept = split_report["records"]["kept"].get<int64_t>();
    const int64_t to_validation = split_report["split"]["validation"].get<int64_t>();
    EXPECT_EQ(split_report["split"]["train"].get<int64_t>() + to_validation, kept);
    EXPECT_NEAR(static_cast<double>(to_validation), 0.1 * static_cast<double>(kept), 1.0);
    std::fprintf(stderr, "peak RSS converting 1.07 GiB with --split 0.1: %.1f MB\n",
                 split.peak_mb);
    EXPECT_LT(split.peak_mb, 200.0) << "binary alone " << base.peak_mb << " MB";
    EXPECT_LT(split.peak_mb - base.peak_mb, 32.0) << "binary alone " << base.peak_mb << " MB";
    std::remove(tmp.file("train.jsonl").c_str());
    std::remove(tmp.file("train.validation.jsonl").c_str());
    std::remove(path.c_str());

    // A single 100 MiB line: a clear error, holding at most the 64 MiB line limit.
    std::string huge = tmp.file("huge.jsonl");
    {
        std::ofstream out(huge, std::ios::binary);
        out << "{\"text\": \"ok\"}\n{\"text\": \"";
        std::string chunk(1 << 20, 'y');
        for (int i = 0; i < 100; ++i)
            out << chunk;
        out << "\"}\n";
    }
    Child h = run_measured({"data", "validate", huge}, err);
    EXPECT_EQ(h.exit_code, 1);
    EXPECT_NE(h.err.find("line 2 is longer than 64.0 MiB"), std::string::npos) << h.err;
    std::fprintf(stderr, "peak RSS rejecting a 100 MiB line: %.1f MB\n", h.peak_mb);
    EXPECT_LT(h.peak_mb - base.peak_mb, 64 * 1.048576 + 16) << "binary alone " << base.peak_mb;
}
