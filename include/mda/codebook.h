// A visual codebook: k x d centroids learned by k-means, stored as centroids.npy (float32 k x d).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mda/options.h"

namespace mda {

struct CentroidScreen;

struct Codebook {
  int64_t k = 0, dim = 0;
  std::vector<float> centroids;  // k x dim, row-major
  std::vector<float> norms;      // squared norms of the centroids
  uint64_t fingerprint = 0;      // FNV-1a 64 of the centroid bytes; ties an index to its codebook
  // The centroids rounded to int8 for the screened products of quantization (made by
  // from_centroids where they run; internal to the library). Like `norms` and `fingerprint`, it
  // describes the centroids it was made from: changed centroids need a new from_centroids.
  std::shared_ptr<const CentroidScreen> screen;

  // k-means on n x dim row-major descriptors; needs n >= options.k (throws naming both).
  static Codebook train(const float* descriptors, int64_t n, int64_t dim,
                        const KMeansOptions& options);
  static Codebook from_centroids(std::vector<float> centroids, int64_t k, int64_t dim);
  static Codebook load(const std::string& path);  // centroids.npy
  void save(const std::string& path) const;       // atomic
};

}  // namespace mda
