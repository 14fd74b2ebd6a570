// GgufWriter, read back by the test's own reader (gguf_test_reader.h).
#include <gtest/gtest.h>

#include <filesystem>

#include "common/error.h"
#include "gguf_test_reader.h"
#include "model/gguf_writer.h"
#include "support/test_support.h"

using namespace llmtune;
using namespace llmtune::model;
namespace gg = llmtune::test::gguf;

TEST(GgufWriter, MetadataOfEveryTypeAndAlignedF32Data) {
    test::TempDir dir;
    GgufWriter w(64);
    w.add_uint32("a.u32", 4000000000u);
    w.add_int32("a.i32", -7);
    w.add_uint64("a.u64", 1ULL << 40);
    w.add_float32("a.f32", 0.125f);
    w.add_bool("a.bool", true);
    w.add_string("a.str", "h\xc3\xa9llo");
    w.add_string_array("a.strs", {"x", "", "yz"});
    w.add_int32_array("a.ints", {1, -2, 3});
    w.add_float32_array("a.floats", {0.5f, -1.5f});
    auto t1 = torch::randn({3, 5});
    auto t2 = torch::randn({7});
    w.add_tensor("t1", t1, GgmlType::f32);
    w.add_tensor("t2", t2, GgmlType::f32);
    w.write(dir.file("x.gguf"));

    auto f = gg::read_file(dir.file("x.gguf"));
    EXPECT_EQ(f.version, 3u);
    EXPECT_EQ(f.alignment, 64u);
    EXPECT_EQ(f.at("general.alignment").type, 4u);
    EXPECT_EQ(f.at("a.u32").type, 4u);
    EXPECT_EQ(f.at("a.u32").u, 4000000000u);
    EXPECT_EQ(f.at("a.i32").type, 5u);
    EXPECT_EQ(f.at("a.i32").i, -7);
    EXPECT_EQ(f.at("a.u64").type, 10u);
    EXPECT_EQ(f.at("a.u64").u, 1ULL << 40);
    EXPECT_EQ(f.at("a.f32").type, 6u);
    EXPECT_EQ(f.at("a.f32").f, 0.125);
    EXPECT_EQ(f.at("a.bool").type, 7u);
    EXPECT_EQ(f.at("a.bool").u, 1u);
    EXPECT_EQ(f.at("a.str").s, "h\xc3\xa9llo");
    const auto& strs = f.at("a.strs");
    ASSERT_EQ(strs.type, 9u);
    EXPECT_EQ(strs.elem_type, 8u);
    ASSERT_EQ(strs.array.size(), 3u);
    EXPECT_EQ(strs.array[2].s, "yz");
    EXPECT_EQ(f.at("a.ints").elem_type, 5u);
    EXPECT_EQ(f.at("a.ints").array[1].i, -2);
    EXPECT_EQ(f.at("a.floats").elem_type, 6u);
    EXPECT_EQ(f.at("a.floats").array[1].f, -1.5);
    // Keys in the order added, general.alignment last.
    EXPECT_EQ(f.key_order.front(), "a.u32");
    EXPECT_EQ(f.key_order.back(), "general.alignment");

    ASSERT_EQ(f.tensors.size(), 2u);
    EXPECT_EQ(f.data_start % 64, 0u);
    const auto& i1 = f.tensor("t1");
    EXPECT_EQ(i1.dims, (std::vector<uint64_t>{5, 3}));  // innermost first
    EXPECT_EQ(i1.type, 0u);
    EXPECT_EQ(i1.offset, 0u);
    const auto& i2 = f.tensor("t2");
    EXPECT_EQ(i2.offset, 64u);  // 60 bytes of t1, padded to 64
    auto v1 = gg::values(f, i1);
    auto c1 = t1.contiguous();
    for (int64_t k = 0; k < 15; ++k) EXPECT_EQ(v1[k], c1.data_ptr<float>()[k]);
    auto v2 = gg::values(f, i2);
    for (int64_t k = 0; k < 7; ++k) EXPECT_EQ(v2[k], t2.data_ptr<float>()[k]);
    EXPECT_EQ(f.bytes.size(), f.data_start + 128);  // the last tensor is padded too
}

TEST(GgufWriter, DefaultAlignmentIsNotWrittenAsAKey) {
    test::TempDir dir;
    GgufWriter w;
    w.add_string("general.architecture", "llama");
    w.add_tensor("t", torch::ones({3}), GgmlType::f32);
    w.write(dir.file("x.gguf"));
    auto f = gg::read_file(dir.file("x.gguf"));
    EXPECT_EQ(f.kv.count("general.alignment"), 0u);
    EXPECT_EQ(f.alignment, 32u);
    EXPECT_EQ(f.data_start % 32, 0u);
}

TEST(GgufWriter, F16AndBf16WithinTheirRounding) {
    test::TempDir dir;
    auto x = torch::randn({4, 64}) * 3;
    x[0][0] = 1e-6;  // an f16 subnormal
    GgufWriter w;
    w.add_tensor("h", x, GgmlType::f16);
    w.add_tensor("b", x.to(torch::kBFloat16), GgmlType::bf16);  // stored dtype differs: exact
    w.add_tensor("b32", x, GgmlType::bf16);
    w.write(dir.file("x.gguf"));
    auto f = gg::read_file(dir.file("x.gguf"));
    EXPECT_EQ(f.tensor("h").type, 1u);
    EXPECT_EQ(f.tensor("b").type, 30u);
    auto h = gg::values(f, f.tensor("h"));
    auto b = gg::values(f, f.tensor("b"));
    auto b32 = gg::values(f, f.tensor("b32"));
    auto bref = x.to(torch::kBFloat16).to(torch::kFloat32);
    const float* xp = x.data_ptr<float>();
    for (int64_t k = 0; k < x.numel(); ++k) {
        EXPECT_LE(std::fabs(h[k] - xp[k]), std::fabs(xp[k]) * std::ldexp(1.0f, -11) + std::ldexp(1.0f, -25))
            << k;
        EXPECT_LE(std::fabs(b32[k] - xp[k]), std::fabs(xp[k]) * std::ldexp(1.0f, -8)) << k;
        EXPECT_EQ(b[k], bref.data_ptr<float>()[k]) << k;
    }
}

TEST(GgufWriter, Q8_0BlocksDequantizeWithinHalfAStep) {
    test::TempDir dir;
    auto x = torch::randn({3, 96});
    x[1].zero_();  // an all-zero block: scale 0, no division by zero
    x[2][5] = 40;  // one outlier dominates its block's scale
    GgufWriter w;
    w.add_tensor("q", x, GgmlType::q8_0);
    w.write(dir.file("x.gguf"));
    auto f = gg::read_file(dir.file("x.gguf"));
    const auto& t = f.tensor("q");
    EXPECT_EQ(t.type, 8u);
    auto v = gg::values(f, t);
    const float* xp = x.data_ptr<float>();
    for (int64_t blk = 0; blk < x.numel() / 32; ++blk) {
        float amax = 0;
        for (int k = 0; k < 32; ++k) amax = std::max(amax, std::fabs(xp[blk * 32 + k]));
        const float d = amax / 127, dq = gg::q8_0_scale(f, t, blk);
        EXPECT_LE(std::fabs(dq - d), d * std::ldexp(1.0f, -11) + 1e-12f) << "block " << blk;
        for (int k = 0; k < 32; ++k) {
            const int64_t i = blk * 32 + k;
            EXPECT_LE(std::fabs(v[i] - xp[i]), 0.5f * d + 127 * std::fabs(dq - d) + 1e-7f) << i;
        }
    }
    EXPECT_EQ(v[96 + 7], 0.0f);
}

TEST(GgufWriter, RejectsWhatGgmlCannotHold) {
    GgufWriter w;
    w.add_uint32("k", 1);
    try {
        w.add_uint32("k", 2);
        FAIL() << "duplicate key accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::conflict);
    }
    try {
        w.add_tensor("q", torch::zeros({2, 48}), GgmlType::q8_0);
        FAIL() << "Q8_0 with a partial block accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
        EXPECT_NE(e.message().find("multiple of 32"), std::string::npos) << e.message();
    }
    EXPECT_THROW(w.add_tensor(std::string(64, 'n'), torch::zeros({2}), GgmlType::f32), Error);
    w.add_tensor("t", torch::zeros({2}), GgmlType::f32);
    EXPECT_THROW(w.add_tensor("t", torch::zeros({2}), GgmlType::f32), Error);
    EXPECT_THROW(GgufWriter(12), Error);
    try {
        parse_ggml_type("q4_k");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.message(), "unknown GGUF tensor type 'q4_k'");
        EXPECT_EQ(e.hint(), "choose one of: f32, f16, bf16, q8_0");
    }
}

TEST(GgufWriter, UnwritableDirectoryLeavesNothing) {
    test::TempDir dir;
    GgufWriter w;
    w.add_tensor("t", torch::zeros({2}), GgmlType::f32);
    try {
        w.write(dir.file("missing/x.gguf"));
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::io);
    }
    EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}
