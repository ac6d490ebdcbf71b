#include "mda/serve/metrics.h"

#include <sstream>

namespace mda {

void ServiceMetrics::record(const std::string& endpoint, int status, double seconds) {
  const std::lock_guard<std::mutex> lock(mutex_);
  Endpoint& e = endpoints_[endpoint];
  ++e.by_status[status];
  ++e.count;
  e.sum += seconds;
  for (size_t b = 0; b < kBuckets.size(); ++b)
    if (seconds <= kBuckets[b]) ++e.buckets[b];
}

std::string ServiceMetrics::prometheus(const std::string& extra) const {
  std::ostringstream out;
  const std::lock_guard<std::mutex> lock(mutex_);
  out << "# HELP mda_requests_total HTTP requests by endpoint and status code.\n"
      << "# TYPE mda_requests_total counter\n";
  for (const auto& [name, e] : endpoints_)
    for (const auto& [status, count] : e.by_status)
      out << "mda_requests_total{endpoint=\"" << name << "\",code=\"" << status << "\"} " << count
          << "\n";
  out << "# HELP mda_request_errors_total HTTP requests answered with a 4xx or 5xx status.\n"
      << "# TYPE mda_request_errors_total counter\n";
  for (const auto& [name, e] : endpoints_) {
    int64_t errors = 0;
    for (const auto& [status, count] : e.by_status)
      if (status >= 400) errors += count;
    out << "mda_request_errors_total{endpoint=\"" << name << "\"} " << errors << "\n";
  }
  out << "# HELP mda_request_duration_seconds Time from the request's headers to its answer.\n"
      << "# TYPE mda_request_duration_seconds histogram\n";
  for (const auto& [name, e] : endpoints_) {
    for (size_t b = 0; b < kBuckets.size(); ++b)
      out << "mda_request_duration_seconds_bucket{endpoint=\"" << name << "\",le=\"" << kBuckets[b]
          << "\"} " << e.buckets[b] << "\n";
    out << "mda_request_duration_seconds_bucket{endpoint=\"" << name << "\",le=\"+Inf\"} "
        << e.count << "\n"
        << "mda_request_duration_seconds_sum{endpoint=\"" << name << "\"} " << e.sum << "\n"
        << "mda_request_duration_seconds_count{endpoint=\"" << name << "\"} " << e.count << "\n";
  }
  out << extra;
  return out.str();
}

}  // namespace mda
