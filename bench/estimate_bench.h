// llmtune bench estimate: the estimator's predictions against real training runs.
//
// Each configuration is a real `llmtune train` run in a child process (this binary again), on a
// random-weight model made by `llmtune model init` and a generated chat dataset, so its wall
// time and peak RSS (wait4's ru_maxrss) are its own. Before the child starts, the estimator
// predicts the run from the same config (tokenizing the data as the trainer does), the local
// hardware profile (<data-dir>/hardware/local.json, measured first when missing) and a
// step-time fit. One JSON line per configuration: predicted and actual time and peak memory,
// and their ratios.
//
// Two sets: the evaluation set (default) and a calibration set of other shapes
// (--calibrate). --record FILE appends each run's measurement (the estimator's request, the
// measured step times, wall time, peak RSS and the profile) to FILE; --fit FILE refits the
// step-time model from such a file, so the fit in data/estimator/ is reproducible:
//
//   llmtune bench estimate --calibrate --record data/estimator/measurements.jsonl
//   llmtune bench estimate --fit data/estimator/measurements.jsonl
//       --fit-out data/estimator/step_time_fit.json      (one line)
//   llmtune bench estimate           # the evaluation set, predicted with the built-in fit
#pragma once

#include <string>
#include <vector>

#include "common/json_file.h"
#include "train/calibration.h"

namespace llmtune::bench {

struct EstimateBenchOptions {
    bool calibrate = false;
    std::vector<std::string> only;  // run only these configuration names
    std::string record;             // append measurements here
    std::string fit_file;           // predict with this fit JSON instead of the built-in one
    std::string data_dir;           // for the local profile ("" = the default data dir)
    int threads = 2;
};

// Prints each configuration's line on stdout as it completes, and returns them all.
std::vector<ordered_json> run_estimate_bench(const EstimateBenchOptions& options,
                                             const std::string& self_exe);

}  // namespace llmtune::bench
