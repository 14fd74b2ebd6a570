// llmtune bench api: the HTTP API's latency under load, measured with wrk (Debian's `wrk`).
//
// The bench sets up everything itself in a temporary data dir: a tiny random model made by
// `llmtune model init`, a server (`llmtune serve --port 0`, this binary in a child process), a
// small chat training file, and `jobs` fine-tuning jobs, the first of which is kept training
// for the whole measurement (the rest stay queued behind it). Then, for each endpoint --
// GET /v1/fine_tuning/jobs/{id} and GET /v1/fine_tuning/jobs -- wrk drives the server with
// `connections` keep-alive connections for `duration_s` seconds, with the bearer key. wrk's
// own Lua `done` hook reports requests, latency percentiles and errors (socket errors and
// non-2xx answers), so nothing is parsed out of its human-readable text.
//
// One JSON object on stdout: per endpoint req/s, p50/p90/p99/max latency and the errors, the
// target (p99 < 20 ms with zero errors) and the ratio of p99 to it, whether the training job
// was running before and after each run, and the load average (other work on the machine
// skews the figures). Everything started is stopped at the end (the job cancelled, the server
// SIGTERMed) and the temporary dir removed unless `keep`.
#pragma once

#include <string>

#include "common/json_file.h"

namespace llmtune::bench {

struct ApiBenchOptions {
    int connections = 64;
    int duration_s = 10;
    int wrk_threads = 2;
    int jobs = 20;                 // jobs in the list (the first one trains)
    int http_threads = 0;          // the server's --http-threads (0 = its default)
    int worker_threads = 1;        // torch threads of the training worker
    std::string tokenizer;         // a tokenizer dir for the tiny model ("" = the npm llama2 one)
    std::string log_level = "info";  // the server's --log-level (info logs every request)
    std::string wrk = "wrk";       // the wrk executable
    bool keep = false;             // keep the temporary data dir (its path is printed)
};

ordered_json run_api_bench(const ApiBenchOptions& options, const std::string& self_exe);

}  // namespace llmtune::bench
