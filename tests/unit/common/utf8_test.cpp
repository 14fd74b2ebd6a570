#include "common/utf8.h"

#include <gtest/gtest.h>

using llmtune::is_valid_utf8;
using llmtune::Utf8Stream;

TEST(Utf8Stream, HoldsBackASplitCharacterUntilComplete) {
    const std::string euro = "\xE2\x82\xAC";  // U+20AC, three bytes
    Utf8Stream s;
    EXPECT_EQ(s.push("a" + euro.substr(0, 1)), "a");
    EXPECT_EQ(s.push(euro.substr(1, 1)), "");
    EXPECT_EQ(s.push(euro.substr(2, 1) + "b"), euro + "b");
    EXPECT_EQ(s.finish(), "");
}

TEST(Utf8Stream, EveryByteSplitOfMixedTextReassembles) {
    const std::string text = "h\xC3\xA9llo \xF0\x9F\x98\x80 \xE4\xB8\xAD\xE6\x96\x87!";
    for (size_t cut = 0; cut <= text.size(); ++cut) {
        Utf8Stream s;
        std::string a = s.push(text.substr(0, cut));
        EXPECT_TRUE(is_valid_utf8(a)) << "cut at " << cut;
        std::string b = s.push(text.substr(cut));
        EXPECT_EQ(a + b + s.finish(), text) << "cut at " << cut;
    }
}

TEST(Utf8Stream, InvalidBytesBecomeReplacementCharacters) {
    Utf8Stream s;
    std::string out = s.push(
        "a\xFF"
        "b\xC0\xAF");
    EXPECT_EQ(out,
              "a\xEF\xBF\xBD"
              "b\xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_EQ(s.push("\xE2\x82"), "");
    EXPECT_EQ(s.finish(), "\xEF\xBF\xBD");  // an unfinished sequence at the end
}

TEST(Utf8, RejectsSurrogatesAndOverlongs) {
    EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // U+D800
    EXPECT_FALSE(is_valid_utf8("\xE0\x80\xAF"));      // overlong '/'
    EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
    EXPECT_TRUE(is_valid_utf8("\xF4\x8F\xBF\xBF"));   // U+10FFFF
}
