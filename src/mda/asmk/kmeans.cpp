#include "mda/asmk/kmeans.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <numeric>

#include "mda/asmk/matrix.h"
#include "mda/asmk/point_assigner.h"
#include "mda/util/error.h"
#include "mda/util/log.h"
#include "mda/util/progress.h"
#include "mda/util/random.h"

namespace mda {
namespace {

// The first `take` entries of a seeded random permutation of 0..n-1 (partial Fisher-Yates).
std::vector<int64_t> random_subset(int64_t n, int64_t take, SplitMix64& random) {
  std::vector<int64_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  for (int64_t i = 0; i < take; ++i) {
    const int64_t j = i + static_cast<int64_t>(random.below(static_cast<uint64_t>(n - i)));
    std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(j)]);
  }
  perm.resize(static_cast<size_t>(take));
  return perm;
}

// Every rank's block of assignments and distances, into every rank's full arrays.
void gather_assignments(Collective& job, int64_t first, int64_t end,
                        std::vector<int32_t>& assignment, std::vector<float>& distance) {
  const size_t count = static_cast<size_t>(end - first);
  std::string mine(count * (sizeof(int32_t) + sizeof(float)), '\0');
  std::memcpy(mine.data(), assignment.data() + first, count * sizeof(int32_t));
  std::memcpy(mine.data() + count * sizeof(int32_t), distance.data() + first,
              count * sizeof(float));
  const std::vector<std::string> blocks = job.all_gather(mine);
  const int64_t points = static_cast<int64_t>(assignment.size());
  for (int rank = 0; rank < job.size(); ++rank) {
    const auto [b, e] = rank_block(points, rank, job.size(), kNearestCentroidRows);
    const size_t n = static_cast<size_t>(e - b);
    const std::string& block = blocks[static_cast<size_t>(rank)];
    if (block.size() != n * (sizeof(int32_t) + sizeof(float)))
      fail("k-means: rank ", rank, " sent ", block.size(), " bytes of assignments, expected ",
           n * (sizeof(int32_t) + sizeof(float)));
    std::memcpy(assignment.data() + b, block.data(), n * sizeof(int32_t));
    std::memcpy(distance.data() + b, block.data() + n * sizeof(int32_t), n * sizeof(float));
  }
}

}  // namespace

KMeansResult train_kmeans(const float* x, int64_t n, int64_t dim, const KMeansOptions& options,
                          Collective& job) {
  const auto start_time = std::chrono::steady_clock::now();
  const int64_t k = options.k;
  if (k < 1) fail("codebook size must be at least 1, found ", k);
  if (dim < 1) fail("descriptor dimension must be at least 1");
  if (n < k)
    fail("k-means needs at least as many training descriptors as words: ", n, " descriptors for ",
         k, " words");
  check_descriptor_values(x, n, dim, "k-means training descriptors");
  SplitMix64 random(options.seed);
  // Sample at most k * max_points_per_centroid points (faiss's default cap).
  std::vector<float> sample;
  const float* data = x;
  int64_t points = n;
  if (options.max_points_per_centroid > 0 && n > k * options.max_points_per_centroid) {
    points = k * options.max_points_per_centroid;
    log_info("k-means: sampling ", points, " of ", n, " training descriptors (",
             options.max_points_per_centroid, " per word)");
    const std::vector<int64_t> chosen = random_subset(n, points, random);
    sample.resize(static_cast<size_t>(points * dim));
    for (int64_t i = 0; i < points; ++i) {
      std::copy_n(x + chosen[static_cast<size_t>(i)] * dim, dim, sample.begin() + i * dim);
    }
    data = sample.data();
  }
  KMeansResult result;
  result.k = k;
  result.dim = dim;
  result.training_points = points;
  result.centroids.resize(static_cast<size_t>(k * dim));
  const std::vector<int64_t> init = random_subset(points, k, random);
  for (int64_t c = 0; c < k; ++c)
    std::copy_n(data + init[static_cast<size_t>(c)] * dim, dim, result.centroids.begin() + c * dim);

  // This rank's block of the points (all of them in one process), split on the assigner's tiles.
  const auto [first, end] = rank_block(points, job.rank(), job.size(), kNearestCentroidRows);
  const std::unique_ptr<PointAssigner> assigner =
      make_point_assigner(options.device, data + first * dim, end - first, dim, options.threads);
  std::vector<int32_t> assignment(static_cast<size_t>(points));
  std::vector<float> distance(static_cast<size_t>(points));
  std::vector<double> sums(static_cast<size_t>(k * dim));
  std::vector<int64_t> counts(static_cast<size_t>(k));
  Progress progress("k-means", options.iterations, "iter");
  for (int iteration = 0; iteration < options.iterations; ++iteration) {
    assigner->assign(result.centroids.data(), k, 1, assignment.data() + first,
                     distance.data() + first);
    if (job.size() > 1) gather_assignments(job, first, end, assignment, distance);
    double objective = 0;
    for (float dist : distance) objective += dist;
    result.objective.push_back(objective);
    std::fill(sums.begin(), sums.end(), 0.0);
    std::fill(counts.begin(), counts.end(), 0);
    for (int64_t i = 0; i < points; ++i) {
      const int32_t c = assignment[static_cast<size_t>(i)];
      ++counts[static_cast<size_t>(c)];
      for (int64_t t = 0; t < dim; ++t) sums[static_cast<size_t>(c * dim + t)] += data[i * dim + t];
    }
    for (int64_t c = 0; c < k; ++c) {
      if (counts[static_cast<size_t>(c)] == 0) continue;
      for (int64_t t = 0; t < dim; ++t) {
        result.centroids[static_cast<size_t>(c * dim + t)] =
            static_cast<float>(sums[static_cast<size_t>(c * dim + t)] /
                               static_cast<double>(counts[static_cast<size_t>(c)]));
      }
    }
    // Empty clusters: take a cluster chosen with probability proportional to its size beyond one
    // point, and split it into two centroids moved slightly apart (as faiss does).
    int64_t empty = 0;
    const bool can_split = points > k;  // with one point per word there is nothing to split
    for (int64_t c = 0; c < k && can_split; ++c) {
      if (counts[static_cast<size_t>(c)] != 0) continue;
      ++empty;
      int64_t donor = 0;
      while (true) {
        donor = static_cast<int64_t>(random.below(static_cast<uint64_t>(k)));
        const double p = static_cast<double>(counts[static_cast<size_t>(donor)] - 1) /
                         static_cast<double>(points - k);
        if (random.unit() < p) break;
      }
      constexpr float kEps = 1.0f / 1024;
      for (int64_t t = 0; t < dim; ++t) {
        const float v = result.centroids[static_cast<size_t>(donor * dim + t)];
        const float sign = (t % 2 == 0) ? 1.0f : -1.0f;
        result.centroids[static_cast<size_t>(c * dim + t)] = v * (1 + sign * kEps);
        result.centroids[static_cast<size_t>(donor * dim + t)] = v * (1 - sign * kEps);
      }
      counts[static_cast<size_t>(c)] = counts[static_cast<size_t>(donor)] / 2;
      counts[static_cast<size_t>(donor)] -= counts[static_cast<size_t>(c)];
    }
    if (empty)
      log_debug("k-means iteration ", iteration, ": re-seeded ", empty, " empty cluster(s)");
    progress.advance();
  }
  progress.finish();
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count();
  return result;
}

}  // namespace mda
