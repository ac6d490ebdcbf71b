// Request counters and latency histograms per endpoint, written in the Prometheus text format.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace mda {

class ServiceMetrics {
 public:
  void record(const std::string& endpoint, int status, double seconds);
  // The metrics, then `extra` (gauges the caller computes), in the text exposition format.
  std::string prometheus(const std::string& extra) const;

 private:
  static constexpr std::array<double, 12> kBuckets = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
                                                      0.1,   0.2,   0.5,   1,    2,    5};
  struct Endpoint {
    std::map<int, int64_t> by_status;
    std::array<int64_t, kBuckets.size()> buckets{};  // cumulative: at most the bound
    int64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::string, Endpoint> endpoints_;
};

}  // namespace mda
