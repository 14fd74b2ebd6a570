// OpenAI's error object and the HTTP status of every failure:
//
//   {"error": {"message": "...", "type": "invalid_request_error", "param": "purpose", "code": null}}
//
//   llmtune::Error kind   status  type
//   invalid_input         400     invalid_request_error
//   unauthorized          401     invalid_request_error (code invalid_api_key, missing_api_key, ...)
//   not_found             404     invalid_request_error
//   conflict              409     invalid_request_error
//   resource_exhausted    507     server_error   (the server's disk or memory, not the client)
//   cancelled             503     server_error   (shutting down)
//   io, internal          500     server_error
//
// ApiError carries a status chosen by the HTTP layer itself (413 for an oversize body).
#pragma once

#include <exception>
#include <string>

#include "common/json_file.h"

namespace llmtune::server {

struct ApiError {
    int status = 500;
    std::string type = "server_error";
    std::string message;
    std::string param;  // "" -> null
    std::string code;   // "" -> null
};

// Thrown by route handlers for failures that belong to HTTP (oversize body, bad multipart).
class HttpError : public std::exception {
  public:
    explicit HttpError(ApiError e) : error_(std::move(e)) {}
    const ApiError& error() const { return error_; }
    const char* what() const noexcept override { return error_.message.c_str(); }

  private:
    ApiError error_;
};

[[noreturn]] void throw_http(int status, std::string message, std::string param = "",
                             std::string code = "");

// The ApiError for any exception (ServiceError, llmtune::Error, HttpError, std::exception).
ApiError api_error_from(std::exception_ptr ep);

ordered_json api_error_json(const ApiError& e);

// The type OpenAI uses for a status: invalid_request_error below 500, server_error above.
std::string error_type_for_status(int status);

}  // namespace llmtune::server
