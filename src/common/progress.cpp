#include "common/progress.h"

#include <unistd.h>

#include <cstdio>

namespace llmtune {

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), tty_(isatty(2)) {
    start_ = last_draw_ = std::chrono::steady_clock::now();
}

Progress::~Progress() {
    if (!finished_ && tty_ && drawn_) std::fputs("\n", stderr);
}

void Progress::advance(int64_t n) {
    done_ += n;
    auto now = std::chrono::steady_clock::now();
    if (tty_ && now - last_draw_ > std::chrono::milliseconds(100)) {
        last_draw_ = now;
        drawn_ = true;
        draw(false);
    }
}

void Progress::finish() {
    if (finished_) return;
    finished_ = true;
    if (tty_ && drawn_) draw(true);  // work too quick to have shown a bar leaves no line
}

void Progress::draw(bool final) {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    double frac = total_ > 0 ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
    if (frac > 1) frac = 1;
    const int width = 30;
    int filled = static_cast<int>(frac * width);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.append(static_cast<size_t>(width - filled), ' ');
    double rate = secs > 0 ? static_cast<double>(done_) / secs : 0;
    double eta = rate > 0 ? static_cast<double>(total_ - done_) / rate : 0;
    std::fprintf(stderr, "\r%s [%s] %3d%% %lld/%lld %s %.1f/s %s %.0fs", label_.c_str(),
                 bar.c_str(), static_cast<int>(frac * 100), static_cast<long long>(done_),
                 static_cast<long long>(total_), unit_.c_str(), rate, final ? "took" : "eta",
                 final ? secs : eta);
    if (!status_.empty()) std::fprintf(stderr, " | %s\033[K", status_.c_str());
    if (final) std::fputs("\n", stderr);
    std::fflush(stderr);
}

}  // namespace llmtune
