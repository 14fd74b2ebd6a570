#include "train/metrics_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <sstream>
#include <vector>

#include "common/atomic_file.h"
#include "common/error.h"

namespace llmtune::train {

namespace {

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        if (!line.empty()) out.push_back(line);
    return out;
}

}  // namespace

MetricsLog::MetricsLog(std::string path, std::optional<int64_t> resume_step)
    : path_(std::move(path)) {
    if (resume_step && std::filesystem::exists(path_)) {
        std::string kept;
        for (const auto& line : lines_of(read_text_file(path_))) {
            json e = json::parse(line, nullptr, /*allow_exceptions=*/false);
            if (e.is_discarded()) continue;  // a line torn by the crash
            if (e.is_object() && e.contains("step") && e["step"].is_number_integer() &&
                e["step"].get<int64_t>() > *resume_step)
                continue;
            kept += line + "\n";
        }
        write_file_atomic(path_, kept);
    }
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) throw_io("cannot open " + path_ + ": " + errno_text(errno));
}

MetricsLog::~MetricsLog() {
    if (fd_ >= 0) ::close(fd_);
}

void MetricsLog::write(ordered_json event) {
    const double now =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    event["time"] = now;
    const std::string line = event.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    const ssize_t n = ::write(fd_, line.data(), line.size());
    if (n != static_cast<ssize_t>(line.size()))
        throw_io("cannot append to " + path_ + ": " +
                     (n < 0 ? errno_text(errno) : std::string("short write")),
                 "check free disk space");
}

std::vector<json> read_events(const std::string& path) {
    std::vector<json> out;
    for (const auto& line : lines_of(read_text_file(path))) {
        json e = json::parse(line, nullptr, false);
        if (!e.is_discarded()) out.push_back(std::move(e));
    }
    return out;
}

}  // namespace llmtune::train
