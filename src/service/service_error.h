// Errors the service raises about a request: an llmtune::Error that also names the request
// parameter at fault and a machine-readable code, which the HTTP layer copies into OpenAI's
// error object ({"message","type","param","code"}).
#pragma once

#include <string>

#include "common/error.h"

namespace llmtune::service {

class ServiceError : public Error {
  public:
    ServiceError(ErrorKind kind, std::string message, std::string param = "",
                 std::string code = "", std::string hint = "")
        : Error(kind, std::move(message), std::move(hint)),
          param_(std::move(param)),
          code_(std::move(code)) {}

    const std::string& param() const { return param_; }
    const std::string& code() const { return code_; }

  private:
    std::string param_;
    std::string code_;
};

// invalid_input about one parameter.
[[noreturn]] inline void throw_invalid_param(const std::string& param, const std::string& message,
                                             const std::string& code = "invalid_value") {
    throw ServiceError(ErrorKind::invalid_input, message, param, code);
}

// "No such File object: file-abc": the answer for an id that does not exist and for one that
// belongs to another project alike, so a key learns nothing about other projects.
[[noreturn]] inline void throw_no_such(const std::string& what, const std::string& id,
                                       const std::string& param = "id") {
    throw ServiceError(ErrorKind::not_found, "No such " + what + " object: " + id, param);
}

}  // namespace llmtune::service
