// Structured logs: one JSON object per line on stderr, {"ts","level","msg",...fields}.
// Safe to call from any thread (each line is written with one fwrite under a lock).
#pragma once

#include <string>

#include "common/json_file.h"

namespace llmtune::service {

enum class LogLevel { debug, info, warn, error };

// Lines below this level are dropped (default info).
void set_log_level(LogLevel level);

void log_event(LogLevel level, const std::string& msg, const ordered_json& fields = {});

}  // namespace llmtune::service
