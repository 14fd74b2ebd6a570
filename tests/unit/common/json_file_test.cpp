#include "common/json_file.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "support/test_support.h"

using namespace llmtune;

TEST(JsonFile, SyntaxErrorNamesFileLineColumnAndSnippet) {
    test::TempDir dir;
    test::write_file(dir.file("c.json"), "{\n  \"a\": 1,\n  \"b\": tru\n}\n");
    try {
        read_json_file(dir.file("c.json"));
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
        EXPECT_NE(e.message().find(dir.file("c.json")), std::string::npos) << e.message();
        EXPECT_NE(e.message().find("line 3"), std::string::npos) << e.message();
        EXPECT_NE(e.message().find("tru"), std::string::npos) << e.message();
    }
}

TEST(JsonFile, MissingFileIsNotFound) {
    try {
        read_json_file("/nonexistent/x.json");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::not_found);
    }
}

TEST(JsonFile, WriteThenReadRoundTrips) {
    test::TempDir dir;
    ordered_json v = {{"z", 1}, {"a", {1, 2, 3}}, {"s", "h\xC3\xA9"}};
    write_json_file(dir.file("o.json"), v);
    EXPECT_EQ(read_ordered_json_file(dir.file("o.json")), v);
}
