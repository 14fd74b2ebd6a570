#include "dist/rank_env.h"

#include <cmath>
#include <cstdlib>
#include <vector>

#include "common/error.h"

namespace llmtune::dist {

namespace {

const char* const kHint =
    "set RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT (torchrun's variables), or "
    "start the ranks with `llmtune launch --nproc-per-node N -- train CONFIG`; unset RANK and "
    "WORLD_SIZE to train in one process";

// A decimal integer in [lo, hi]; appends a problem to `bad` otherwise.
std::optional<long> parse_int(const char* name, const char* text, long lo, long hi,
                              std::vector<std::string>& bad) {
    const std::string s = text;
    if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos) {
        bad.push_back(std::string(name) + "='" + s + "' is not a non-negative integer");
        return std::nullopt;
    }
    const long v = std::strtol(s.c_str(), nullptr, 10);
    if (v < lo || v > hi) {
        bad.push_back(std::string(name) + "=" + s + " is outside " + std::to_string(lo) + ".." +
                      std::to_string(hi));
        return std::nullopt;
    }
    return v;
}

}  // namespace

std::optional<RankEnv> parse_rank_env(const std::function<const char*(const char*)>& getenv) {
    const char* rank = getenv("RANK");
    const char* world = getenv("WORLD_SIZE");
    if (!rank && !world) return std::nullopt;
    std::vector<std::string> bad;
    std::vector<std::string> missing;
    for (const char* name : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"}) {
        const char* v = getenv(name);
        if (!v || !*v) missing.push_back(name);
    }
    if (!missing.empty()) {
        std::string list;
        for (const auto& m : missing)
            list += (list.empty() ? "" : ", ") + m;
        throw_invalid("a data-parallel rank needs " + list +
                          (missing.size() == 1 ? " (it is unset or empty)"
                                               : " (they are unset or empty)"),
                      kHint);
    }
    RankEnv env;
    const auto w = parse_int("WORLD_SIZE", world, 1, 1 << 20, bad);
    const auto r = parse_int("RANK", rank, 0, 1 << 20, bad);
    const auto lr = parse_int("LOCAL_RANK", getenv("LOCAL_RANK"), 0, 1 << 20, bad);
    const auto port = parse_int("MASTER_PORT", getenv("MASTER_PORT"), 1, 65535, bad);
    std::optional<long> lw;
    if (const char* v = getenv("LOCAL_WORLD_SIZE"); v && *v)
        lw = parse_int("LOCAL_WORLD_SIZE", v, 1, 1 << 20, bad);
    if (w && r && *r >= *w)
        bad.push_back("RANK=" + std::to_string(*r) + " must be below WORLD_SIZE=" +
                      std::to_string(*w));
    if (lr && lw && *lr >= *lw)
        bad.push_back("LOCAL_RANK=" + std::to_string(*lr) + " must be below LOCAL_WORLD_SIZE=" +
                      std::to_string(*lw));
    if (lw && w && *lw > *w)
        bad.push_back("LOCAL_WORLD_SIZE=" + std::to_string(*lw) + " exceeds WORLD_SIZE=" +
                      std::to_string(*w));
    if (!bad.empty()) {
        std::string msg = "invalid data-parallel environment:";
        for (const auto& b : bad)
            msg += "\n  " + b;
        throw_invalid(msg, kHint);
    }
    env.rank = static_cast<int>(*r);
    env.world_size = static_cast<int>(*w);
    env.local_rank = static_cast<int>(*lr);
    env.local_world_size = lw ? static_cast<int>(*lw) : 0;
    env.master_addr = getenv("MASTER_ADDR");
    env.master_port = static_cast<int>(*port);
    return env;
}

std::optional<RankEnv> rank_env_from_process() {
    return parse_rank_env([](const char* name) { return std::getenv(name); });
}

std::chrono::milliseconds parse_dist_timeout(
    const std::function<const char*(const char*)>& getenv) {
    const char* v = getenv("LLMTUNE_DIST_TIMEOUT_S");
    if (!v) return kDefaultTimeout;
    char* end = nullptr;
    const double s = std::strtod(v, &end);
    if (!*v || *end || !std::isfinite(s) || s <= 0 || s > 7 * 24 * 3600)
        throw_invalid(std::string("LLMTUNE_DIST_TIMEOUT_S='") + v +
                          "' is not a number of seconds in (0, 604800]",
                      "set it to how long a rank may wait for the others, e.g. 600");
    return std::chrono::milliseconds(static_cast<int64_t>(std::ceil(s * 1000)));
}

std::chrono::milliseconds dist_timeout_from_process() {
    return parse_dist_timeout([](const char* name) { return std::getenv(name); });
}

int rank_threads(const std::function<const char*(const char*)>& getenv) {
    const char* v = getenv("OMP_NUM_THREADS");
    if (!v || !*v) return 1;
    std::vector<std::string> bad;
    const auto n = parse_int("OMP_NUM_THREADS", v, 1, 4096, bad);
    if (!n) throw_invalid(bad.front(), "set OMP_NUM_THREADS to a positive integer, or unset it");
    return static_cast<int>(*n);
}

}  // namespace llmtune::dist
