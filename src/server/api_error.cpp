#include "server/api_error.h"

#include <new>

#include "common/error.h"
#include "service/service_error.h"

namespace llmtune::server {

std::string error_type_for_status(int status) {
    return status >= 500 ? "server_error" : "invalid_request_error";
}

void throw_http(int status, std::string message, std::string param, std::string code) {
    throw HttpError(ApiError{status, error_type_for_status(status), std::move(message),
                             std::move(param), std::move(code)});
}

ApiError api_error_from(std::exception_ptr ep) {
    ApiError out;
    try {
        std::rethrow_exception(ep);
    } catch (const HttpError& e) {
        return e.error();
    } catch (const Error& e) {
        switch (e.kind()) {
            case ErrorKind::invalid_input:
                out.status = 400;
                break;
            case ErrorKind::unauthorized:
                out.status = 401;
                break;
            case ErrorKind::not_found:
                out.status = 404;
                break;
            case ErrorKind::conflict:
                out.status = 409;
                break;
            case ErrorKind::resource_exhausted:
                out.status = 507;
                break;
            case ErrorKind::cancelled:
                out.status = 503;
                break;
            case ErrorKind::io:
            case ErrorKind::internal:
                out.status = 500;
                break;
        }
        out.type = error_type_for_status(out.status);
        out.message = e.message();
        if (auto* se = dynamic_cast<const service::ServiceError*>(&e)) {
            out.param = se->param();
            out.code = se->code();
        }
        if (e.kind() == ErrorKind::unauthorized && out.code.empty()) out.code = "invalid_api_key";
        if (out.status >= 500 && !e.hint().empty()) out.message += " (" + e.hint() + ")";
    } catch (const std::bad_alloc&) {
        out.status = 507;
        out.message = "The server ran out of memory.";
    } catch (const std::exception& e) {
        out.status = 500;
        out.message = std::string("Internal error: ") + e.what();
    } catch (...) {
        out.status = 500;
        out.message = "Internal error: an unknown exception.";
    }
    out.type = error_type_for_status(out.status);
    return out;
}

ordered_json api_error_json(const ApiError& e) {
    ordered_json err;
    err["message"] = e.message;
    err["type"] = e.type;
    err["param"] = e.param.empty() ? ordered_json(nullptr) : ordered_json(e.param);
    err["code"] = e.code.empty() ? ordered_json(nullptr) : ordered_json(e.code);
    return ordered_json{{"error", err}};
}

}  // namespace llmtune::server
