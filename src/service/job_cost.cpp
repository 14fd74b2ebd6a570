#include "service/job_cost.h"

#include <filesystem>

#include "common/error.h"

namespace llmtune::service {

void update_job_cost(JobRecord& job, const ordered_json& e, std::optional<double> price) {
    ordered_json cost = ordered_json::parse(job.cost_json, nullptr, false);
    if (!cost.is_object()) cost = ordered_json::object();
    double seconds = cost.value("measured_seconds", 0.0);
    const int64_t step = e.value("step", int64_t{0});
    const double tokens = e.value("tokens", 0.0);
    const double rate = e.value("tokens_per_s", 0.0);
    if (step > job.last_step && tokens > 0 && rate > 0) seconds += tokens / rate;
    cost["measured_seconds"] = seconds;
    cost["tokens_per_s"] = rate > 0 ? ordered_json(rate) : ordered_json(nullptr);
    const bool has_eta = e.contains("eta_s") && e["eta_s"].is_number();
    cost["remaining_seconds"] = has_eta ? e["eta_s"] : ordered_json(nullptr);
    cost["price_per_hour_usd"] = price ? ordered_json(*price) : ordered_json(nullptr);
    if (price) {
        const double so_far = *price * seconds / 3600.0;
        cost["so_far_usd"] = so_far;
        cost["projected_usd"] = has_eta ? ordered_json(so_far + *price * e["eta_s"].get<double>() / 3600.0)
                                        : ordered_json(nullptr);
    } else {
        cost["so_far_usd"] = nullptr;
        cost["projected_usd"] = nullptr;
    }
    cost["basis"] =
        price ? "measured step time x this machine's price (hardware/local.json)"
              : "no price for this machine: set price_per_hour_usd in <data-dir>/hardware/local.json";
    job.cost_json = cost.dump();
}

std::optional<double> local_price_per_hour(const std::string& data_dir) {
    const std::string path = data_dir + "/hardware/local.json";
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return std::nullopt;
    try {
        auto j = read_json_file(path);
        if (j.is_object() && j.contains("price_per_hour_usd") && j["price_per_hour_usd"].is_number() &&
            j["price_per_hour_usd"].get<double>() > 0)
            return j["price_per_hour_usd"].get<double>();
    } catch (const Error&) {
        // an unreadable profile has no price; the estimator reports the profile's own problem
    }
    return std::nullopt;
}

}  // namespace llmtune::service
