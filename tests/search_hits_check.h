// Expects two searches' results to be the same: names, positions and scores (bit for bit).
#pragma once

#include <gtest/gtest.h>

#include <vector>

#include "mda/index.h"

namespace mda {

inline void expect_same_hits(const std::vector<std::vector<SearchHit>>& a,
                             const std::vector<std::vector<SearchHit>>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t q = 0; q < a.size(); ++q) {
    ASSERT_EQ(a[q].size(), b[q].size()) << "query " << q;
    for (size_t r = 0; r < a[q].size(); ++r) {
      EXPECT_EQ(a[q][r].name, b[q][r].name) << "query " << q << " rank " << r;
      EXPECT_EQ(a[q][r].index, b[q][r].index) << "query " << q << " rank " << r;
      EXPECT_EQ(a[q][r].score, b[q][r].score) << "query " << q << " rank " << r;
    }
  }
}

}  // namespace mda
