// ASMK aggregation of one image's local descriptors (method.md 4.4): per visual word, the sum of
// the residuals of the descriptors assigned to it (a descriptor counts toward each of its words),
// then binarized at 0 (ASMK*) or L2-normalised.
#pragma once

#include <cstdint>
#include <vector>

namespace mda {

struct AggregatedImage {
  int64_t dim = 0;
  bool binary = true;
  std::vector<int32_t> words;  // distinct words, ascending
  std::vector<uint8_t>
      codes;  // binary: words.size() x code_bytes, bit t of dimension t (LSB first)
  std::vector<float> vectors;  // non-binary: words.size() x dim, unit norm

  int64_t code_bytes() const { return (dim + 7) / 8; }
  int64_t count() const { return static_cast<int64_t>(words.size()); }
};

// descriptors: n x dim; assignments: n x ma word indices; centroids: k x dim.
AggregatedImage aggregate(const float* descriptors, int64_t n, int64_t dim,
                          const int32_t* assignments, int ma, const float* centroids, int64_t k,
                          bool binary);

}  // namespace mda
