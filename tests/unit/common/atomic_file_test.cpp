#include "common/atomic_file.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/error.h"
#include "support/test_support.h"

using namespace llmtune;

TEST(AtomicFile, ReplacesContentsAndLeavesNoTempFiles) {
    test::TempDir dir;
    write_file_atomic(dir.file("f"), "old");
    write_file_atomic(dir.file("f"), "new contents");
    EXPECT_EQ(test::read_file(dir.file("f")), "new contents");
    int n = 0;
    for (auto& e : std::filesystem::directory_iterator(dir.path()))
        (void)e, ++n;
    EXPECT_EQ(n, 1);
}

TEST(AtomicFile, AbandonedWriteKeepsTheOldFile) {
    test::TempDir dir;
    write_file_atomic(dir.file("f"), "old");
    {
        AtomicFile f(dir.file("f"));
        f.write("partial", 7);
        // destroyed without commit(): as if the process failed mid-write
    }
    EXPECT_EQ(test::read_file(dir.file("f")), "old");
}

TEST(AtomicFile, UnwritableDirectoryIsAnIoError) {
    try {
        write_file_atomic("/nonexistent-dir/f", "x");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::io);
    }
}
