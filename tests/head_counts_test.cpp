// Kept features per head (method.md 1.8): a head that kept nothing is counted, wherever it is.
#include <gtest/gtest.h>

#include "mda/features/head_counts.h"

namespace mda {
namespace {

LocalFeatures image_with_heads(std::vector<int32_t> heads) {
  LocalFeatures f;
  f.heads = std::move(heads);
  f.strengths.assign(f.heads.size(), 1.0f);
  return f;
}

TEST(HeadCounts, CountsEveryHeadOfTheModelIncludingTrailingEmptyOnes) {
  const std::vector<LocalFeatures> images = {image_with_heads({0, 2, 0}), image_with_heads({2})};
  EXPECT_EQ(count_features_per_head(images, 4), (std::vector<int64_t>{2, 0, 2, 0}));
  // Without the model's head count the list can only end at the last head seen.
  EXPECT_EQ(count_features_per_head(images, 0), (std::vector<int64_t>{2, 0, 2}));
}

TEST(HeadCounts, AHeadBeyondTheGivenCountIsStillCounted) {
  EXPECT_EQ(count_features_per_head({image_with_heads({3, -1})}, 2),
            (std::vector<int64_t>{0, 0, 0, 1}));
}

TEST(HeadCounts, FormatsCountsWithTheLargestShare) {
  EXPECT_EQ(format_head_counts({1907, 2275, 5782, 2036}),
            "1907 / 2275 / 5782 / 2036 (largest 48%)");
  EXPECT_EQ(format_head_counts({0, 0}), "0 / 0");
}

}  // namespace
}  // namespace mda
