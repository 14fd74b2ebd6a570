#include "server/http_metrics.h"

#include <cstdio>

namespace llmtune::server {

std::string prometheus_label(const std::string& v) {
    std::string out;
    for (char c : v) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

void HttpMetrics::observe(const std::string& route, const std::string& method, int status,
                          double seconds) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++requests_[{route, method, status}];
    Histogram& h = latency_[route];
    for (size_t i = 0; i < kBuckets.size(); ++i)
        if (seconds <= kBuckets[i]) {
            ++h.buckets[i];
            break;
        }
    ++h.count;
    h.sum += seconds;
}

void HttpMetrics::render(std::string& out) const {
    std::lock_guard<std::mutex> lock(mutex_);
    char num[64];
    out += "# HELP llmtune_http_requests_total HTTP requests answered, by route, method and status.\n";
    out += "# TYPE llmtune_http_requests_total counter\n";
    for (const auto& [key, n] : requests_) {
        const auto& [route, method, status] = key;
        out += "llmtune_http_requests_total{route=\"" + prometheus_label(route) + "\",method=\"" +
               prometheus_label(method) + "\",status=\"" + std::to_string(status) + "\"} " +
               std::to_string(n) + "\n";
    }
    out += "# HELP llmtune_http_request_duration_seconds Time from the request's headers to the "
           "end of the response, by route.\n";
    out += "# TYPE llmtune_http_request_duration_seconds histogram\n";
    for (const auto& [route, h] : latency_) {
        std::string label = prometheus_label(route);
        uint64_t cumulative = 0;
        for (size_t i = 0; i < kBuckets.size(); ++i) {
            cumulative += h.buckets[i];
            std::snprintf(num, sizeof num, "%g", kBuckets[i]);
            out += "llmtune_http_request_duration_seconds_bucket{route=\"" + label + "\",le=\"" +
                   num + "\"} " + std::to_string(cumulative) + "\n";
        }
        out += "llmtune_http_request_duration_seconds_bucket{route=\"" + label +
               "\",le=\"+Inf\"} " + std::to_string(h.count) + "\n";
        std::snprintf(num, sizeof num, "%.9g", h.sum);
        out += "llmtune_http_request_duration_seconds_sum{route=\"" + label + "\"} " + num + "\n";
        out += "llmtune_http_request_duration_seconds_count{route=\"" + label + "\"} " +
               std::to_string(h.count) + "\n";
    }
}

}  // namespace llmtune::server
