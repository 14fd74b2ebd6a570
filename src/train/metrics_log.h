// events.jsonl: the training run's events, one JSON object a line, appended as they happen
// (OpenAI fine-tuning metric names: train_loss, train_mean_token_accuracy, valid_loss,
// valid_mean_token_accuracy). Each line is written with one write(2) on an O_APPEND
// descriptor, so a crash can cut the file only at a line boundary or leave one partial last
// line; readers skip a last line that does not parse.
//
// Event types (the "type" key): start, resume, train (one per optimizer step), eval,
// checkpoint, early_stop, interrupted, error, end. Every event carries "time" (Unix seconds).
// docs/config.md lists each event's keys. Torch-free.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/json_file.h"

namespace llmtune::train {

class MetricsLog {
  public:
    // Opens (creating) `path` for appending. With `resume_step`, events of steps after it
    // (what a killed run did past the checkpoint it resumes from, and will now redo) are
    // dropped first, atomically, so the log has each step once.
    explicit MetricsLog(std::string path, std::optional<int64_t> resume_step = std::nullopt);
    ~MetricsLog();
    MetricsLog(const MetricsLog&) = delete;
    MetricsLog& operator=(const MetricsLog&) = delete;

    // Appends the event with "time" added. io error when the write fails.
    void write(ordered_json event);
    const std::string& path() const { return path_; }

  private:
    std::string path_;
    int fd_ = -1;
};

// Reads events.jsonl (skipping a torn last line), for tests and tools.
std::vector<json> read_events(const std::string& path);

}  // namespace llmtune::train
