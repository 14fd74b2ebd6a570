// A progress bar on stderr for long work (loading, writing, benchmarking).
//
// On a terminal it redraws one line at most 10 times a second; otherwise it stays silent
// until finish(), so logs and CI output do not fill with carriage returns.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace llmtune {

class Progress {
  public:
    Progress(std::string label, int64_t total, std::string unit = "");
    ~Progress();
    void advance(int64_t n = 1);
    void finish();
    // Text shown after the bar (e.g. "loss 1.23 | 850 tok/s"), from the next redraw on.
    void set_status(std::string status) { status_ = std::move(status); }

  private:
    void draw(bool final);
    std::string label_, unit_, status_;
    int64_t total_, done_ = 0;
    bool tty_, finished_ = false, drawn_ = false;
    std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace llmtune
