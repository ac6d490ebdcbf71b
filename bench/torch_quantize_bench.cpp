// Quantization and k-means on the libtorch backends (asmk/torch_point_assigner.h), each as a ratio
// to a reference measured in the same run on the same device:
//  (b) assignments of N random 128-d descriptors to 65,536 random words (MA 1 and MA 5): the time
//      of the bare float32 matrix product of the same shapes (torch::mm) over the time of the
//      assignment, results copied back to the host included (1 = costs no more than its product);
//  k-means with the asmk defaults (10 iterations, 65,536 words, POINTS training points): seconds,
//      the objective, and the share of the time spent in the assignment products at the measured
//      product rate.
// Usage: mda_bench_torch_quantize DEVICE(cuda|torch-cpu) [N=100000] [POINTS=1048576]
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "mda/asmk/kmeans.h"
#include "mda/asmk/point_assigner.h"
#include "mda/net/torch_point_assigner.h"

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s cuda|torch-cpu [N=100000] [POINTS=1048576]\n", argv[0]);
    return 2;
  }
  const std::string device_name = argv[1];
  const int64_t n = argc > 2 ? std::atoll(argv[2]) : 100000;
  const int64_t points = argc > 3 ? std::atoll(argv[3]) : 1048576;
  const int64_t words = 65536, dim = 128;
  mda::register_torch_point_assigners();
  if (device_name == "cuda" && !torch::cuda::is_available()) {
    std::printf("no CUDA device visible: nothing measured\n");
    return 77;
  }
  const torch::Device device(device_name == "cuda" ? torch::kCUDA : torch::kCPU);

  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  std::vector<float> centroids(static_cast<size_t>(words * dim)), x(static_cast<size_t>(n * dim));
  for (float& v : centroids) v = normal(rng);
  for (float& v : x) v = normal(rng);

  // Reference: the bare product of the same shapes, on the same device.
  torch::NoGradGuard no_grad;
  const torch::Tensor a = torch::from_blob(x.data(), {n, dim}).to(device);
  const torch::Tensor b = torch::from_blob(centroids.data(), {words, dim}).to(device);
  const int64_t block = std::max<int64_t>(1, (int64_t{1} << 28) / words);  // as the backend
  double gemm = 1e30;
  for (int r = 0; r < 4; ++r) {
    synchronize(device);
    const double t = now();
    for (int64_t s = 0; s < n; s += block) {
      const torch::Tensor c = torch::mm(a.narrow(0, s, std::min(block, n - s)), b.t());
      (void)c;
    }
    synchronize(device);
    if (r) gemm = std::min(gemm, now() - t);  // the first is a warm-up
  }
  const double gflops = 2.0 * static_cast<double>(n) * words * dim / gemm / 1e9;
  const std::unique_ptr<mda::PointAssigner> assigner =
      mda::make_point_assigner(device_name, x.data(), n, dim, 1);
  for (int ma : {1, 5}) {
    std::vector<int32_t> idx(static_cast<size_t>(n * ma));
    std::vector<float> dist(static_cast<size_t>(n * ma));
    double best = 1e30;
    for (int r = 0; r < 4; ++r) {
      const double t = now();
      assigner->assign(centroids.data(), words, ma, idx.data(), dist.data());
      if (r) best = std::min(best, now() - t);
    }
    std::printf(
        "(b) quantization on %s, MA %d: %.3g assignments/s of %lld x %lld-d to %lld words; bare "
        "product %.1f GFLOP/s; ratio %.2f (target >= 0.7)\n",
        device_name.c_str(), ma, static_cast<double>(n) / best, static_cast<long long>(n),
        static_cast<long long>(dim), static_cast<long long>(words), gflops, gemm / best);
  }

  // k-means with the asmk defaults on the same device.
  std::vector<float> training(static_cast<size_t>(points * dim));
  for (float& v : training) v = normal(rng);
  mda::KMeansOptions options;
  options.k = words;
  options.device = device_name;
  options.seed = 1;
  const mda::KMeansResult result = mda::train_kmeans(training.data(), points, dim, options);
  const double product_seconds = options.iterations * 2.0 *
                                 static_cast<double>(result.training_points) * words * dim /
                                 (gflops * 1e9);
  std::printf(
      "k-means on %s: %lld words from %lld points, %d iterations in %.1f s (objective %.6g -> "
      "%.6g); the assignment products alone would take %.1f s at the measured rate (%.0f%% of "
      "the time)\n",
      device_name.c_str(), static_cast<long long>(words),
      static_cast<long long>(result.training_points), options.iterations, result.seconds,
      result.objective.front(), result.objective.back(), product_seconds,
      100.0 * product_seconds / result.seconds);
  return 0;
}
