#include "model/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "common/error.h"
#include "support/test_support.h"

using namespace llmtune;
using namespace llmtune::model;

namespace {

// Builds a safetensors file by hand so tests can corrupt any part of it.
std::string make_file(const std::string& header_json, const std::string& data) {
    std::string out(8, '\0');
    uint64_t n = header_json.size();
    for (int i = 0; i < 8; ++i)
        out[i] = static_cast<char>(n >> (8 * i));
    return out + header_json + data;
}

std::string error_of(const std::string& path) {
    try {
        SafetensorsFile::open(path);
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::invalid_input) << e.message();
        return e.message();
    }
    ADD_FAILURE() << "expected an error for " << path;
    return "";
}

}  // namespace

TEST(Safetensors, RoundTripsEveryDtype) {
    test::TempDir dir;
    NamedTensors in;
    in.emplace_back("f32", torch::randn({3, 5}));
    in.emplace_back("f16", torch::randn({4}).to(torch::kFloat16));
    in.emplace_back("bf16", torch::randn({2, 3, 2}).to(torch::kBFloat16));
    in.emplace_back("i64", torch::arange(-5, 7, torch::kInt64));
    in.emplace_back("i32", torch::arange(0, 9, torch::kInt32).view({3, 3}));
    in.emplace_back("u8", torch::arange(0, 255, torch::kInt32).to(torch::kUInt8));
    in.emplace_back("bool", torch::rand({7}) > 0.5);
    in.emplace_back("scalar", torch::tensor(3.5f));
    in.emplace_back("empty", torch::empty({0, 4}));
    write_safetensors(dir.file("a.safetensors"), in, {{"format", "pt"}});
    auto f = SafetensorsFile::open(dir.file("a.safetensors"));
    EXPECT_EQ(f->header().metadata.at("format"), "pt");
    for (const auto& [name, t] : in) {
        auto back = f->tensor(name);
        EXPECT_EQ(back.scalar_type(), t.scalar_type()) << name;
        EXPECT_EQ(back.sizes(), t.sizes()) << name;
        EXPECT_TRUE(torch::equal(back, t)) << name;
    }
}

TEST(Safetensors, ReadIsZeroCopyAndWritesDoNotReachTheFile) {
    test::TempDir dir;
    write_safetensors(dir.file("a.safetensors"), {{"w", torch::ones({1024})}});
    const std::string before = test::read_file(dir.file("a.safetensors"));
    {
        auto f = SafetensorsFile::open(dir.file("a.safetensors"));
        auto a = f->tensor("w");
        auto b = f->tensor("w");
        EXPECT_EQ(a.data_ptr(), b.data_ptr());  // both views of the mapping
        a.mul_(3);                              // copy-on-write: private to this process
        EXPECT_EQ(b[0].item<float>(), 3.0f);
    }
    EXPECT_EQ(test::read_file(dir.file("a.safetensors")), before);
}

TEST(Safetensors, ShardedCheckpointLoadsThroughTheIndex) {
    test::TempDir dir;
    NamedTensors in;
    for (int i = 0; i < 6; ++i)
        in.emplace_back("t" + std::to_string(i), torch::randn({100}));
    write_checkpoint(dir.path(), in, /*max_shard_bytes=*/900);  // two tensors per shard
    EXPECT_TRUE(std::filesystem::exists(dir.file("model.safetensors.index.json")));
    EXPECT_TRUE(std::filesystem::exists(dir.file("model-00003-of-00003.safetensors")));
    auto ck = Checkpoint::open_dir(dir.path());
    EXPECT_EQ(ck.num_files(), 3u);
    EXPECT_EQ(ck.names().size(), 6u);
    for (const auto& [name, t] : in)
        EXPECT_TRUE(torch::equal(ck.tensor(name), t)) << name;
}

TEST(Safetensors, IndexPointingAtAShardWithoutTheTensorFails) {
    test::TempDir dir;
    write_checkpoint(dir.path(), {{"a", torch::ones({300})}, {"b", torch::ones({300})}}, 1000);
    test::write_file(dir.file("model.safetensors.index.json"),
                     R"({"weight_map": {"a": "model-00001-of-00002.safetensors",
                                        "b": "model-00001-of-00002.safetensors"}})");
    try {
        Checkpoint::open_dir(dir.path());
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(e.message().find("'b'"), std::string::npos) << e.message();
    }
}

TEST(Safetensors, TruncatedFiles) {
    test::TempDir dir;
    write_safetensors(dir.file("ok"), {{"w", torch::ones({16})}});
    std::string full = test::read_file(dir.file("ok"));
    test::write_file(dir.file("tiny"), full.substr(0, 5));
    EXPECT_NE(error_of(dir.file("tiny")).find("truncated"), std::string::npos);
    test::write_file(dir.file("header"), full.substr(0, 20));
    EXPECT_NE(error_of(dir.file("header")).find("truncated"), std::string::npos);
    test::write_file(dir.file("data"), full.substr(0, full.size() - 4));
    EXPECT_NE(error_of(dir.file("data")).find("out of bounds"), std::string::npos);
}

TEST(Safetensors, OversizedHeader) {
    test::TempDir dir;
    std::string f(8, '\0');
    uint64_t n = 200'000'000;
    for (int i = 0; i < 8; ++i)
        f[i] = static_cast<char>(n >> (8 * i));
    test::write_file(dir.file("big"), f + "{}");
    EXPECT_NE(error_of(dir.file("big")).find("exceeds"), std::string::npos);
}

TEST(Safetensors, NonJsonHeader) {
    test::TempDir dir;
    test::write_file(dir.file("x"), make_file("{not json", ""));
    EXPECT_NE(error_of(dir.file("x")).find("not valid JSON"), std::string::npos);
    test::write_file(dir.file("y"), make_file("[1,2]", ""));
    EXPECT_NE(error_of(dir.file("y")).find("not a JSON object"), std::string::npos);
}

TEST(Safetensors, OverlappingAndOutOfBoundsOffsets) {
    test::TempDir dir;
    std::string data(32, '\0');
    test::write_file(dir.file("overlap"),
                     make_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                               R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
                               data));
    EXPECT_NE(error_of(dir.file("overlap")).find("overlapping"), std::string::npos);
    test::write_file(
        dir.file("oob"),
        make_file(R"({"a":{"dtype":"F32","shape":[16],"data_offsets":[0,64]}})", data));
    EXPECT_NE(error_of(dir.file("oob")).find("out of bounds"), std::string::npos);
}

TEST(Safetensors, UnknownDtype) {
    test::TempDir dir;
    test::write_file(dir.file("x"),
                     make_file(R"({"a":{"dtype":"Q4_K","shape":[4],"data_offsets":[0,4]}})",
                               std::string(4, '\0')));
    EXPECT_NE(error_of(dir.file("x")).find("'Q4_K'"), std::string::npos);
}

TEST(Safetensors, ShapeSizeMismatch) {
    test::TempDir dir;
    test::write_file(dir.file("x"),
                     make_file(R"({"a":{"dtype":"F32","shape":[3,3],"data_offsets":[0,32]}})",
                               std::string(32, '\0')));
    EXPECT_NE(error_of(dir.file("x")).find("shape/size mismatch"), std::string::npos);
    // A shape whose element count overflows 64 bits must not wrap around to a small size.
    test::write_file(
        dir.file("y"),
        make_file(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,0]}})",
                  ""));
    EXPECT_NE(error_of(dir.file("y")).find("large"), std::string::npos);
}

TEST(Safetensors, MissingCheckpointIsNotFoundWithHint) {
    test::TempDir dir;
    try {
        Checkpoint::open_dir(dir.path());
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::not_found);
        EXPECT_FALSE(e.hint().empty());
    }
}
