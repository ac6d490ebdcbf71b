// k-means codebook training with the asmk/faiss defaults: at most `max_points_per_centroid`
// sampled training points per centroid, centroids initialised from distinct random points, Lloyd
// iterations, empty clusters re-seeded by splitting a large one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mda/options.h"
#include "mda/util/collective.h"

namespace mda {

struct KMeansResult {
  int64_t k = 0, dim = 0;
  std::vector<float> centroids;   // k x dim
  std::vector<double> objective;  // sum of squared distances, one per iteration
  int64_t training_points = 0;    // after sampling
  double seconds = 0;
};

// x: n x dim row-major. Needs n >= k; throws naming the numbers otherwise.
// In a job of several ranks (MPI), every rank passes the same x and options: each assigns its
// block of the (sampled) points, the assignments meet by all_gather, and every rank computes the
// same centroids, bit-identical to one process's.
KMeansResult train_kmeans(const float* x, int64_t n, int64_t dim, const KMeansOptions& options,
                          Collective& job = single_process());

}  // namespace mda
