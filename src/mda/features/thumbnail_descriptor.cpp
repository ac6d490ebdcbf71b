#include "mda/features/thumbnail_descriptor.h"

#include <cmath>

#include "mda/image/transform.h"

namespace mda {

std::vector<float> thumbnail_descriptor(const Image& image, int side) {
  const Image small = resize(image, side, side);
  std::vector<float> d(small.pixels.begin(), small.pixels.end());
  double mean = 0;
  for (float v : d) mean += v;
  mean /= static_cast<double>(d.size());
  double norm = 0;
  for (float& v : d) {
    v = static_cast<float>(v - mean);
    norm += static_cast<double>(v) * v;
  }
  norm = std::sqrt(norm);
  if (norm > 0) {
    for (float& v : d) v = static_cast<float>(v / norm);
  }
  return d;
}

}  // namespace mda
