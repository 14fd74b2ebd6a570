#include <gtest/gtest.h>

#include "common/error.h"
#include "server/api_error.h"
#include "service/service_error.h"

using namespace llmtune;
using namespace llmtune::server;

namespace {
template <typename E>
ApiError error_for(E e) {
    return api_error_from(std::make_exception_ptr(e));
}
}  // namespace

TEST(ApiError, ErrorKindsMapToStatuses) {
    EXPECT_EQ(error_for(Error(ErrorKind::invalid_input, "x")).status, 400);
    EXPECT_EQ(error_for(Error(ErrorKind::unauthorized, "x")).status, 401);
    EXPECT_EQ(error_for(Error(ErrorKind::not_found, "x")).status, 404);
    EXPECT_EQ(error_for(Error(ErrorKind::conflict, "x")).status, 409);
    EXPECT_EQ(error_for(Error(ErrorKind::io, "x")).status, 500);
    EXPECT_EQ(error_for(Error(ErrorKind::internal, "x")).status, 500);
    EXPECT_EQ(error_for(std::runtime_error("boom")).status, 500);
    EXPECT_EQ(error_for(Error(ErrorKind::invalid_input, "x")).type, "invalid_request_error");
    EXPECT_EQ(error_for(Error(ErrorKind::io, "x")).type, "server_error");
    EXPECT_EQ(error_for(Error(ErrorKind::unauthorized, "x")).code, "invalid_api_key");
}

TEST(ApiError, ServiceErrorsCarryParamAndCode) {
    ApiError e = error_for(service::ServiceError(ErrorKind::invalid_input, "bad purpose", "purpose",
                                                 "invalid_value"));
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.param, "purpose");
    EXPECT_EQ(e.code, "invalid_value");
    auto j = api_error_json(e);
    EXPECT_EQ(j["error"]["message"], "bad purpose");
    EXPECT_EQ(j["error"]["type"], "invalid_request_error");
    EXPECT_EQ(j["error"]["param"], "purpose");
    EXPECT_EQ(j["error"]["code"], "invalid_value");
}

TEST(ApiError, EmptyParamAndCodeAreNull) {
    auto j = api_error_json(error_for(Error(ErrorKind::not_found, "No such File object: file-x")));
    ASSERT_TRUE(j["error"].contains("param"));
    EXPECT_TRUE(j["error"]["param"].is_null());
    EXPECT_TRUE(j["error"]["code"].is_null());
}

TEST(ApiError, HttpErrorsKeepTheirStatus) {
    try {
        throw_http(413, "too big", "file", "file_too_large");
    } catch (...) {
        ApiError e = api_error_from(std::current_exception());
        EXPECT_EQ(e.status, 413);
        EXPECT_EQ(e.type, "invalid_request_error");
        EXPECT_EQ(e.param, "file");
    }
}
