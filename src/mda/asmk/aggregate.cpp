#include "mda/asmk/aggregate.h"

#include <algorithm>
#include <cmath>

#include "mda/util/error.h"

namespace mda {
namespace {

// The sum of the residuals (x - c) of a word's descriptors, in double and descriptor by descriptor
// (that order fixes the rounding), into residual; with code, also its signs as bits (LSB first).
// Cloned per instruction set: in the baseline build's two-wide doubles, and bit by bit, this was
// most of a query's aggregation.
__attribute__((target_clones("avx512f", "avx2", "default"))) void sum_residuals(
    const float* descriptors, const int64_t* rows, size_t count, const float* centroid, int64_t dim,
    double* residual, uint8_t* code) {
  int64_t t0 = 0;
  for (; t0 + 8 <= dim; t0 += 8) {
    double c[8], sum[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int u = 0; u < 8; ++u) c[u] = centroid[t0 + u];
    for (size_t j = 0; j < count; ++j) {
      const float* x = descriptors + rows[j] * dim + t0;
      for (int u = 0; u < 8; ++u) sum[u] += static_cast<double>(x[u]) - c[u];
    }
    for (int u = 0; u < 8; ++u) residual[t0 + u] = sum[u];
    if (code != nullptr) {
      unsigned bits = 0;
      for (int u = 0; u < 8; ++u) bits |= static_cast<unsigned>(sum[u] > 0) << u;
      code[t0 / 8] = static_cast<uint8_t>(bits);
    }
  }
  for (; t0 < dim; ++t0) {
    double sum = 0;
    for (size_t j = 0; j < count; ++j)
      sum +=
          static_cast<double>(descriptors[rows[j] * dim + t0]) - static_cast<double>(centroid[t0]);
    residual[t0] = sum;
    if (code != nullptr)
      code[t0 / 8] |= static_cast<uint8_t>(static_cast<unsigned>(sum > 0) << (t0 % 8));
  }
}

}  // namespace

AggregatedImage aggregate(const float* descriptors, int64_t n, int64_t dim,
                          const int32_t* assignments, int ma, const float* centroids, int64_t k,
                          bool binary) {
  AggregatedImage out;
  out.dim = dim;
  out.binary = binary;
  const int64_t pairs = n * ma;
  for (int64_t p = 0; p < pairs; ++p) {
    const int32_t word = assignments[p];
    if (word < 0 || word >= k) fail("visual word ", word, " outside the codebook of ", k);
  }
  // The (word, descriptor) pairs in ascending order: a counting sort by word where the codebook
  // is small beside the pairs, a sort of packed keys otherwise (no pass over a large codebook).
  std::vector<int64_t> rows(static_cast<size_t>(pairs));
  std::vector<int32_t> group_starts;  // where each of out.words' descriptors start in rows
  if (k <= 4 * pairs) {
    std::vector<int32_t> starts(static_cast<size_t>(k) + 1, 0);
    for (int64_t p = 0; p < pairs; ++p) ++starts[static_cast<size_t>(assignments[p]) + 1];
    for (int64_t w = 0; w < k; ++w) {
      if (starts[static_cast<size_t>(w + 1)] > 0) {
        out.words.push_back(static_cast<int32_t>(w));
        group_starts.push_back(starts[static_cast<size_t>(w)]);
      }
      starts[static_cast<size_t>(w + 1)] += starts[static_cast<size_t>(w)];
    }
    for (int64_t p = 0; p < pairs; ++p)
      rows[static_cast<size_t>(starts[static_cast<size_t>(assignments[p])]++)] = p / ma;
  } else {
    std::vector<uint64_t> keys(static_cast<size_t>(pairs));
    for (int64_t p = 0; p < pairs; ++p)
      keys[static_cast<size_t>(p)] =
          static_cast<uint64_t>(assignments[p]) << 32 | static_cast<uint64_t>(p / ma);
    std::sort(keys.begin(), keys.end());
    for (int64_t p = 0; p < pairs; ++p) {
      const auto word = static_cast<int32_t>(keys[static_cast<size_t>(p)] >> 32);
      if (out.words.empty() || out.words.back() != word) {
        out.words.push_back(word);
        group_starts.push_back(static_cast<int32_t>(p));
      }
      rows[static_cast<size_t>(p)] =
          static_cast<int64_t>(keys[static_cast<size_t>(p)] & 0xffffffffu);
    }
  }
  group_starts.push_back(static_cast<int32_t>(pairs));
  if (binary)
    out.codes.assign(out.words.size() * static_cast<size_t>(out.code_bytes()), 0);
  else
    out.vectors.reserve(out.words.size() * static_cast<size_t>(dim));
  std::vector<double> residual(static_cast<size_t>(dim));
  for (size_t g = 0; g < out.words.size(); ++g) {
    uint8_t* code = binary ? out.codes.data() + g * static_cast<size_t>(out.code_bytes()) : nullptr;
    sum_residuals(descriptors, rows.data() + group_starts[g],
                  static_cast<size_t>(group_starts[g + 1] - group_starts[g]),
                  centroids + static_cast<int64_t>(out.words[g]) * dim, dim, residual.data(), code);
    if (!binary) {
      double norm = 0;
      for (double v : residual) norm += v * v;
      norm = std::sqrt(norm) + 1e-6;
      for (double v : residual) out.vectors.push_back(static_cast<float>(v / norm));
    }
  }
  return out;
}

}  // namespace mda
