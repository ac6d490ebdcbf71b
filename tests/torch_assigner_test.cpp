// The libtorch nearest-centroid backends ("torch-cpu", "cuda") against the BLAS one, and k-means
// run on them. The CUDA tests skip, saying so, where no GPU is visible.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <random>

#include "mda/asmk/kmeans.h"
#include "mda/asmk/point_assigner.h"
#include "mda/net/torch_point_assigner.h"
#include "test_helpers.h"

namespace mda {
namespace {

// Skips the calling test, saying so, where the device is "cuda" and no GPU is visible.
bool device_missing(const std::string& device) {
  register_torch_point_assigners();
  return device == "cuda" && !torch::cuda::is_available();
}

// Distinct distances: each point's squared distances to the centroids differ by at least 1 (small
// integer coordinates, centroids spread along the first axis), so the nearest ones are unique and
// every distance is exact in float.
void distinct_distance_problem(int64_t n, int64_t k, int64_t d, std::vector<float>& x,
                               std::vector<float>& c) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> pick(-3, 3);
  x.assign(static_cast<size_t>(n * d), 0);
  for (float& v : x) v = static_cast<float>(pick(rng));
  c.assign(static_cast<size_t>(k * d), 0);
  for (int64_t j = 0; j < k; ++j) {
    for (int64_t t = 0; t < d; ++t)
      c[static_cast<size_t>(j * d + t)] = static_cast<float>(pick(rng));
    c[static_cast<size_t>(j * d)] = static_cast<float>(1000 + 10 * j);
  }
}

void expect_same_as_blas(const std::string& device) {
  register_torch_point_assigners();
  const int64_t n = 500, k = 70, d = 16;
  std::vector<float> x, c;
  distinct_distance_problem(n, k, d, x, c);
  {
    for (int count : {1, 5}) {
      std::vector<int32_t> want_idx(static_cast<size_t>(n * count)), idx(want_idx.size());
      std::vector<float> want_dist(want_idx.size()), dist(want_idx.size());
      make_point_assigner("cpu", x.data(), n, d, 2)
          ->assign(c.data(), k, count, want_idx.data(), want_dist.data());
      make_point_assigner(device, x.data(), n, d, 2)
          ->assign(c.data(), k, count, idx.data(), dist.data());
      EXPECT_EQ(idx, want_idx) << device << " count " << count;
      EXPECT_EQ(dist, want_dist) << device << " count " << count;
    }
  }
}

TEST(TorchPointAssigner, TorchCpuMatchesBlasBackendExactly) { expect_same_as_blas("torch-cpu"); }

TEST(TorchPointAssigner, CudaMatchesBlasBackendExactly) {
  if (device_missing("cuda")) GTEST_SKIP() << "no CUDA device visible";
  expect_same_as_blas("cuda");
}

void expect_same_kmeans_as_blas(const std::string& device) {
  std::mt19937 rng(2);
  const int64_t k = 8, d = 6, per = 150;
  std::normal_distribution<float> noise(0.0f, 0.05f);
  std::uniform_int_distribution<int> pick(-10, 10);
  std::vector<float> x;
  for (int64_t cluster = 0; cluster < k; ++cluster) {
    std::vector<float> center(static_cast<size_t>(d));
    for (float& v : center) v = static_cast<float>(pick(rng));
    for (int64_t i = 0; i < per; ++i)
      for (int64_t t = 0; t < d; ++t) x.push_back(center[static_cast<size_t>(t)] + noise(rng));
  }
  KMeansOptions options;
  options.k = k;
  options.iterations = 8;
  options.seed = 11;
  const KMeansResult want = train_kmeans(x.data(), k * per, d, options);
  {
    options.device = device;
    const KMeansResult got = train_kmeans(x.data(), k * per, d, options);
    ASSERT_EQ(got.objective.size(), want.objective.size()) << device;
    for (size_t i = 0; i < got.objective.size(); ++i)
      EXPECT_NEAR(got.objective[i], want.objective[i], 1e-4 * want.objective[i] + 1e-3) << device;
    ASSERT_EQ(got.centroids.size(), want.centroids.size());
    for (size_t i = 0; i < got.centroids.size(); ++i)
      EXPECT_NEAR(got.centroids[i], want.centroids[i], 1e-4) << device << " value " << i;
  }
}

TEST(TorchPointAssigner, KMeansOnTorchCpuFindsTheSameClusters) {
  register_torch_point_assigners();
  expect_same_kmeans_as_blas("torch-cpu");
}

TEST(TorchPointAssigner, KMeansOnCudaFindsTheSameClusters) {
  if (device_missing("cuda")) GTEST_SKIP() << "no CUDA device visible";
  expect_same_kmeans_as_blas("cuda");
}

TEST(TorchPointAssigner, UnknownDeviceNamesTheAvailableOnes) {
  register_torch_point_assigners();
  const float x[2] = {0, 0};
  test::expect_error([&] { make_point_assigner("tpu", x, 1, 2, 1); },
                     {"'tpu'", "cpu", "cuda", "torch-cpu"});
  if (!torch::cuda::is_available()) {
    test::expect_error([&] { make_point_assigner("cuda", x, 1, 2, 1); }, {"no CUDA device"});
  }
}

}  // namespace
}  // namespace mda
