// Request counters and latency histograms by route, rendered in Prometheus' text format:
//
//   llmtune_http_requests_total{route="/v1/files/{id}",method="GET",status="200"} 12
//   llmtune_http_request_duration_seconds_bucket{route="/v1/files/{id}",le="0.005"} 11
//
// `route` is the route's template, never the raw path, so the series stay few. Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

namespace llmtune::server {

class HttpMetrics {
  public:
    void observe(const std::string& route, const std::string& method, int status, double seconds);
    // Appends the metric families to `out`.
    void render(std::string& out) const;

  private:
    static constexpr std::array<double, 12> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                        0.1,   0.25,   0.5,   1.0,  2.5,   10.0};
    struct Histogram {
        std::array<uint64_t, kBuckets.size()> buckets{};  // cumulative on render
        uint64_t count = 0;
        double sum = 0;
    };
    mutable std::mutex mutex_;
    std::map<std::tuple<std::string, std::string, int>, uint64_t> requests_;
    std::map<std::string, Histogram> latency_;
};

// A label value escaped as Prometheus requires (backslash, quote, newline).
std::string prometheus_label(const std::string& v);

}  // namespace llmtune::server
