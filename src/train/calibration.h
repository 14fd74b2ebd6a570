// The step-time fit of recorded calibration runs (data/estimator/measurements.jsonl, one JSON
// object per line as `llmtune bench estimate --record` writes: the estimator's request, the
// hardware profile, each step's measured seconds and the run's wall time). Every run is
// re-planned with the trainer's order and its steps' features paired with the measured
// seconds; runs without evaluation also give a job-overhead sample. Torch-free.
#pragma once

#include <string>

#include "train/step_time_model.h"

namespace llmtune::train {

// not_found when the file is missing; invalid_input naming the line of a bad record.
StepTimeFit fit_from_measurements(const std::string& path);

}  // namespace llmtune::train
