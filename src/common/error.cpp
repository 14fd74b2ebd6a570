#include "common/error.h"

#include <cstring>

namespace llmtune {

const char* error_kind_name(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::invalid_input:
            return "invalid_input";
        case ErrorKind::not_found:
            return "not_found";
        case ErrorKind::conflict:
            return "conflict";
        case ErrorKind::unauthorized:
            return "unauthorized";
        case ErrorKind::io:
            return "io";
        case ErrorKind::resource_exhausted:
            return "resource_exhausted";
        case ErrorKind::cancelled:
            return "cancelled";
        case ErrorKind::internal:
            return "internal";
    }
    return "internal";
}

Error::Error(ErrorKind kind, std::string message, std::string hint)
    : std::runtime_error(message),
      kind_(kind),
      message_(std::move(message)),
      hint_(std::move(hint)) {}

void throw_invalid(std::string message, std::string hint) {
    throw Error(ErrorKind::invalid_input, std::move(message), std::move(hint));
}

void throw_io(std::string message, std::string hint) {
    throw Error(ErrorKind::io, std::move(message), std::move(hint));
}

std::string errno_text(int err) {
    char buf[256];
    // GNU strerror_r returns the message pointer, which may or may not be buf.
    return strerror_r(err, buf, sizeof buf);
}

}  // namespace llmtune
