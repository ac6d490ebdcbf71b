// Expects two extractions of one image to agree within the float rounding of another computation
// order (another batch size, another layout): the same kept locations (near-equal strengths may
// swap places, so at most two may differ), strengths rank by rank, and each location's descriptor.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>
#include <tuple>

#include "mda/local_features.h"

namespace mda {

inline void expect_near_features(const LocalFeatures& a, const LocalFeatures& b,
                                 const std::string& what) {
  ASSERT_EQ(a.count(), b.count()) << what;
  ASSERT_EQ(a.dim, b.dim) << what;
  std::map<std::tuple<int, int, float>, int64_t> where;
  for (int64_t j = 0; j < b.count(); ++j) {
    const size_t k = static_cast<size_t>(j);
    where[{b.xs[k], b.ys[k], b.scales[k]}] = j;
  }
  int64_t matched = 0;
  for (int64_t i = 0; i < a.count(); ++i) {
    const size_t k = static_cast<size_t>(i);
    EXPECT_NEAR(a.strengths[k], b.strengths[k], 1e-5) << what << " feature " << i;
    const auto found = where.find({a.xs[k], a.ys[k], a.scales[k]});
    if (found == where.end()) continue;
    ++matched;
    for (int64_t t = 0; t < a.dim; ++t) {
      EXPECT_NEAR(a.descriptors[static_cast<size_t>(i * a.dim + t)],
                  b.descriptors[static_cast<size_t>(found->second * b.dim + t)], 1e-4)
          << what << " feature " << i;
    }
  }
  EXPECT_GE(matched, a.count() - 2) << what;
}

}  // namespace mda
