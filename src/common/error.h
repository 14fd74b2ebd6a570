// llmtune::Error: the one exception type thrown inside llmtune.
//
// Each error carries a kind (what class of failure), a message (what went wrong and where)
// and a hint (what the user can do about it). The CLI maps the kind to an exit code; the
// HTTP layer maps it to a status and an OpenAI error object.
#pragma once

#include <stdexcept>
#include <string>

namespace llmtune {

enum class ErrorKind {
    invalid_input,       // the user's data, file or parameter is wrong
    not_found,           // a named thing does not exist
    conflict,            // the request clashes with current state
    unauthorized,        // missing or bad credentials
    io,                  // filesystem, network or environment failure
    resource_exhausted,  // out of memory, disk, quota
    cancelled,           // stopped on request
    internal,            // a bug in llmtune
};

const char* error_kind_name(ErrorKind kind);

class Error : public std::runtime_error {
  public:
    Error(ErrorKind kind, std::string message, std::string hint = "");

    ErrorKind kind() const { return kind_; }
    const std::string& message() const { return message_; }
    const std::string& hint() const { return hint_; }

  private:
    ErrorKind kind_;
    std::string message_;
    std::string hint_;
};

// Shorthands for the common kinds.
[[noreturn]] void throw_invalid(std::string message, std::string hint = "");
[[noreturn]] void throw_io(std::string message, std::string hint = "");

// The errno text for an I/O failure, e.g. "No such file or directory".
std::string errno_text(int err);

}  // namespace llmtune

// LLMTUNE_ASSERT: an invariant of llmtune itself, not a check of user input. A failure is a
// bug, reported as an internal error with the location.
#define LLMTUNE_ASSERT(cond, what)                                                             \
    do {                                                                                       \
        if (!(cond))                                                                           \
            throw ::llmtune::Error(::llmtune::ErrorKind::internal,                             \
                                   std::string("assertion failed: ") + #cond + " (" + (what) + \
                                       ") at " + __FILE__ + ":" + std::to_string(__LINE__),    \
                                   "this is a bug in llmtune; please report it");              \
    } while (0)
