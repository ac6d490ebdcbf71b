#include "mda/asmk/aggregate.h"

#include <algorithm>
#include <cmath>

#include "mda/util/error.h"

namespace mda {

AggregatedImage aggregate(const float* descriptors, int64_t n, int64_t dim,
                          const int32_t* assignments, int ma, const float* centroids, int64_t k,
                          bool binary) {
  AggregatedImage out;
  out.dim = dim;
  out.binary = binary;
  // Group the (descriptor, word) pairs by word.
  std::vector<std::pair<int32_t, int64_t>> pairs;
  pairs.reserve(static_cast<size_t>(n * ma));
  for (int64_t i = 0; i < n; ++i) {
    for (int a = 0; a < ma; ++a) {
      const int32_t word = assignments[i * ma + a];
      if (word < 0 || word >= k) fail("visual word ", word, " outside the codebook of ", k);
      pairs.emplace_back(word, i);
    }
  }
  std::sort(pairs.begin(), pairs.end());
  std::vector<double> residual(static_cast<size_t>(dim));
  for (size_t start = 0; start < pairs.size();) {
    const int32_t word = pairs[start].first;
    std::fill(residual.begin(), residual.end(), 0.0);
    size_t end = start;
    for (; end < pairs.size() && pairs[end].first == word; ++end) {
      const float* x = descriptors + pairs[end].second * dim;
      const float* c = centroids + static_cast<int64_t>(word) * dim;
      for (int64_t t = 0; t < dim; ++t)
        residual[static_cast<size_t>(t)] += static_cast<double>(x[t]) - c[t];
    }
    out.words.push_back(word);
    if (binary) {
      const size_t base = out.codes.size();
      out.codes.resize(base + static_cast<size_t>(out.code_bytes()), 0);
      // Branch-free: the signs of residuals are coin flips, and a branch per bit mispredicted half
      // the time (it was most of the aggregation's time).
      for (int64_t t = 0; t < dim; ++t) {
        out.codes[base + static_cast<size_t>(t / 8)] |= static_cast<uint8_t>(
            static_cast<unsigned>(residual[static_cast<size_t>(t)] > 0) << (t % 8));
      }
    } else {
      double norm = 0;
      for (double v : residual) norm += v * v;
      norm = std::sqrt(norm) + 1e-6;
      for (double v : residual) out.vectors.push_back(static_cast<float>(v / norm));
    }
    start = end;
  }
  return out;
}

}  // namespace mda
