// The local features kept for one image (method.md 1.8): descriptors with their attention
// strength, the head that detected them, their feature-map location and their scale.
#pragma once

#include <cstdint>
#include <vector>

namespace mda {

struct LocalFeatures {
  int64_t dim = 0;
  std::vector<float> descriptors;  // count x dim, not normalised (as HOW keeps them)
  std::vector<float> strengths;  // attention score (max over heads), divided by the image's maximum
  std::vector<int32_t> heads;    // argmax head
  std::vector<int32_t> xs, ys;   // feature-map location at that scale
  std::vector<float> scales;     // the extraction scale

  int64_t count() const { return static_cast<int64_t>(strengths.size()); }
};

}  // namespace mda
