// Learning-rate schedules against the closed forms of transformers' schedules, written out
// again here, independently of the code under test.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "common/error.h"
#include "train/lr_schedule.h"

namespace llmtune::train {
namespace {

// transformers (optimization.py), with current step s, warmup w, total n.
double ref_warmup(double s, double w) {
    return s / std::max(1.0, w);
}
double ref_linear(double s, double w, double n) {
    if (s < w) return ref_warmup(s, w);
    return std::max(0.0, (n - s) / std::max(1.0, n - w));
}
double ref_cosine(double s, double w, double n, double min_ratio) {
    if (s < w) return ref_warmup(s, w);
    const double progress = (s - w) / std::max(1.0, n - w);
    const double f = 0.5 * (1.0 + std::cos(M_PI * 0.5 * 2.0 * progress));
    return std::max(0.0, f * (1 - min_ratio) + min_ratio);
}
double ref_constant(double s, double w) {
    return s < w ? ref_warmup(s, w) : 1.0;
}

LrSchedule make(LrScheduleKind kind, int64_t warmup, int64_t total, double min_ratio = 0) {
    LrScheduleConfig c;
    c.kind = kind;
    c.warmup_steps = warmup;
    c.min_lr_ratio = min_ratio;
    return LrSchedule(c, total);
}

TEST(LrSchedule, LinearMatchesTransformers) {
    auto s = make(LrScheduleKind::linear, 10, 100);
    for (int64_t step : {0, 1, 5, 9, 10, 11, 37, 50, 99, 100})
        EXPECT_NEAR(s.factor(step), ref_linear(step, 10, 100), 1e-15) << step;
    EXPECT_EQ(s.factor(0), 0.0);   // transformers' first warmup step has factor 0
    EXPECT_EQ(s.factor(10), 1.0);  // peak at the end of warmup
    EXPECT_NEAR(s.factor(55), 0.5, 1e-15);
    EXPECT_EQ(s.factor(100), 0.0);
}

TEST(LrSchedule, CosineMatchesTransformers) {
    auto s = make(LrScheduleKind::cosine, 5, 85);
    for (int64_t step : {0, 2, 4, 5, 6, 20, 45, 70, 84, 85})
        EXPECT_NEAR(s.factor(step), ref_cosine(step, 5, 85, 0), 1e-15) << step;
    EXPECT_NEAR(s.factor(45), 0.5, 1e-15);  // half-way through the decay
    EXPECT_NEAR(s.factor(85), 0.0, 1e-15);
}

TEST(LrSchedule, CosineToMinLrRatio) {
    auto s = make(LrScheduleKind::cosine, 0, 50, 0.1);
    for (int64_t step : {0, 1, 13, 25, 49, 50})
        EXPECT_NEAR(s.factor(step), ref_cosine(step, 0, 50, 0.1), 1e-15) << step;
    EXPECT_NEAR(s.factor(0), 1.0, 1e-15);
    EXPECT_NEAR(s.factor(25), 0.55, 1e-15);
    EXPECT_NEAR(s.factor(50), 0.1, 1e-15);
    EXPECT_NEAR(s.factor(80), 0.1, 1e-15);  // past the end: held at the final value
}

TEST(LrSchedule, ConstantWithWarmup) {
    auto s = make(LrScheduleKind::constant, 4, 20);
    for (int64_t step = 0; step <= 20; ++step)
        EXPECT_EQ(s.factor(step), ref_constant(step, 4)) << step;
    EXPECT_EQ(s.factor(2), 0.5);
    auto flat = make(LrScheduleKind::constant, 0, 20);
    EXPECT_EQ(flat.factor(0), 1.0);
}

TEST(LrSchedule, WarmupRatioEqualsSteps) {
    for (auto kind : {LrScheduleKind::constant, LrScheduleKind::linear, LrScheduleKind::cosine}) {
        LrScheduleConfig by_ratio;
        by_ratio.kind = kind;
        by_ratio.warmup_ratio = 0.1;
        LrSchedule r(by_ratio, 200);
        auto s = make(kind, 20, 200);
        EXPECT_EQ(r.warmup_steps(), 20);
        for (int64_t step = 0; step <= 200; ++step)
            EXPECT_EQ(r.factor(step), s.factor(step)) << step;
    }
    // Rounded up as transformers does: ceil(45 * 0.1) = ceil(4.5) = 5.
    LrScheduleConfig c;
    c.warmup_ratio = 0.1;
    EXPECT_EQ(LrSchedule(c, 45).warmup_steps(), 5);
    EXPECT_EQ(LrSchedule(c, 45).warmup_steps(), static_cast<int64_t>(std::ceil(45 * 0.1)));
}

TEST(LrSchedule, MonotoneWarmupThenDecay) {
    for (auto kind : {LrScheduleKind::linear, LrScheduleKind::cosine}) {
        auto s = make(kind, 30, 300, kind == LrScheduleKind::cosine ? 0.2 : 0.0);
        for (int64_t step = 1; step <= 300; ++step) {
            if (step <= 30)
                EXPECT_GT(s.factor(step), s.factor(step - 1)) << step;
            else
                EXPECT_LT(s.factor(step), s.factor(step - 1)) << step;
            EXPECT_GE(s.factor(step), 0.0);
            EXPECT_LE(s.factor(step), 1.0);
        }
    }
}

TEST(LrSchedule, EdgeCases) {
    // All warmup: the factor never reaches 1 (transformers' behaviour).
    auto all = make(LrScheduleKind::linear, 10, 10);
    EXPECT_NEAR(all.factor(9), 0.9, 1e-15);
    EXPECT_EQ(all.factor(10), 0.0);
    // One step.
    auto one = make(LrScheduleKind::cosine, 0, 1);
    EXPECT_EQ(one.factor(0), 1.0);
}

TEST(LrSchedule, ParsesKindNames) {
    EXPECT_EQ(parse_lr_schedule_kind("cosine"), LrScheduleKind::cosine);
    EXPECT_EQ(parse_lr_schedule_kind("linear"), LrScheduleKind::linear);
    EXPECT_EQ(parse_lr_schedule_kind("constant"), LrScheduleKind::constant);
    EXPECT_STREQ(lr_schedule_kind_name(LrScheduleKind::cosine), "cosine");
    try {
        parse_lr_schedule_kind("cosine_with_restarts");
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
        EXPECT_NE(e.message().find("lr_scheduler_type"), std::string::npos);
    }
}

std::string config_error(const std::function<void(LrScheduleConfig&)>& edit, int64_t total = 100) {
    LrScheduleConfig c;
    edit(c);
    try {
        LrSchedule s(c, total);
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
        return e.message();
    }
    ADD_FAILURE() << "no error";
    return "";
}

TEST(LrSchedule, InvalidConfigNamesTheField) {
    auto has = [](const std::string& msg, const std::string& what) {
        return msg.find(what) != std::string::npos;
    };
    EXPECT_TRUE(has(config_error([](auto& c) { c.warmup_steps = -1; }), "warmup_steps must be"));
    EXPECT_TRUE(
        has(config_error([](auto& c) { c.warmup_steps = 101; }), "warmup_steps (101) exceeds"));
    EXPECT_TRUE(has(config_error([](auto& c) { c.warmup_ratio = 1.5; }), "warmup_ratio must be"));
    EXPECT_TRUE(has(config_error([](auto& c) { c.warmup_ratio = NAN; }), "warmup_ratio must be"));
    EXPECT_TRUE(has(config_error([](auto& c) {
                        c.warmup_steps = 3;
                        c.warmup_ratio = 0.1;
                    }),
                    "both set"));
    EXPECT_TRUE(has(config_error([](auto& c) {
                        c.kind = LrScheduleKind::cosine;
                        c.min_lr_ratio = 2;
                    }),
                    "min_lr_ratio must be"));
    EXPECT_TRUE(has(config_error([](auto& c) { c.min_lr_ratio = 0.1; }),
                    "min_lr_ratio applies only to the cosine"));
    EXPECT_TRUE(has(config_error([](auto&) {}, 0), "total_steps must be"));
    EXPECT_NO_THROW(LrSchedule(LrScheduleConfig{}, 1));
}

}  // namespace
}  // namespace llmtune::train
