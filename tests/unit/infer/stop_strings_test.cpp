#include "infer/stop_strings.h"

#include <gtest/gtest.h>

using llmtune::infer::StopMatcher;

TEST(StopMatcher, CutsBeforeAStopStringSplitAcrossPieces) {
    StopMatcher m({"</end>"});
    std::string out = m.push("hello </");
    EXPECT_EQ(out, "hello ");  // "</" might start the stop string: held back
    out += m.push("en");
    out += m.push("d> tail");
    EXPECT_TRUE(m.stopped());
    EXPECT_EQ(out, "hello ");
    EXPECT_EQ(m.push("more"), "");
}

TEST(StopMatcher, ReleasesHeldTextWhenItTurnsOutNotToMatch) {
    StopMatcher m({"STOP"});
    EXPECT_EQ(m.push("ST"), "");
    EXPECT_EQ(m.push("ART"), "START");
    EXPECT_EQ(m.push("ends ST"), "ends ");
    EXPECT_EQ(m.flush(), "ST");
    EXPECT_FALSE(m.stopped());
}

TEST(StopMatcher, EarliestOfSeveralStopsWins) {
    StopMatcher m({"b c", "c d", "x"});
    EXPECT_EQ(m.push("a b c d"), "a ");
    EXPECT_TRUE(m.stopped());
}

TEST(StopMatcher, EveryCutOfTheTextGivesTheSameResult) {
    const std::string text = "one two\nUser: three";
    for (size_t cut = 0; cut <= text.size(); ++cut) {
        StopMatcher m({"\nUser:"});
        std::string out = m.push(text.substr(0, cut));
        out += m.push(text.substr(cut));
        out += m.flush();
        EXPECT_EQ(out, "one two") << cut;
    }
}
