// A visual codebook (k x d centroids, centroids.npy) and the quantize + aggregate step that turns
// one image's descriptors into its ASMK representation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mda/asmk/aggregate.h"

namespace mda {

// Seconds spent in the two halves of Codebook::encode, summed over calls.
struct EncodeTimings {
  double quantize = 0;
  double aggregate = 0;
};

struct Codebook {
  int64_t k = 0, dim = 0;
  std::vector<float> centroids;  // k x dim
  std::vector<float> norms;      // squared norms of the centroids
  uint64_t fingerprint = 0;

  static Codebook from_centroids(std::vector<float> centroids, int64_t k, int64_t dim);
  static Codebook load(const std::string& path);  // centroids.npy, float32 k x d
  void save(const std::string& path) const;

  // Nearest `ma` words per descriptor, then residual aggregation. Descriptors of another
  // dimension are an error naming `what`.
  // `timings`, when given, accumulates the seconds of both steps.
  AggregatedImage encode(const float* descriptors, int64_t n, int64_t descriptor_dim, int ma,
                         bool binary, int threads, const std::string& what,
                         EncodeTimings* timings = nullptr) const;
};

}  // namespace mda
