#include "mda/features/head_counts.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

namespace mda {

std::vector<int64_t> count_features_per_head(const std::vector<LocalFeatures>& images,
                                             int64_t heads) {
  std::vector<int64_t> counts(static_cast<size_t>(std::max<int64_t>(heads, 0)), 0);
  for (const LocalFeatures& image : images) {
    for (int32_t head : image.heads) {
      if (head < 0) continue;
      if (static_cast<size_t>(head) >= counts.size()) counts.resize(static_cast<size_t>(head) + 1);
      ++counts[static_cast<size_t>(head)];
    }
  }
  return counts;
}

std::string format_head_counts(const std::vector<int64_t>& counts) {
  std::ostringstream out;
  for (size_t i = 0; i < counts.size(); ++i) out << (i ? " / " : "") << counts[i];
  const int64_t total = std::accumulate(counts.begin(), counts.end(), int64_t{0});
  if (total > 0) {
    const int64_t largest = *std::max_element(counts.begin(), counts.end());
    out << " (largest " << std::lround(100.0 * static_cast<double>(largest) / total) << "%)";
  }
  return out.str();
}

}  // namespace mda
