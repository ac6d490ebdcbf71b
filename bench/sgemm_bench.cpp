// Which sgemm kernel the k-means and quantization products run on this CPU, and how fast, beside
// every other kernel this build can call, at the shapes of quantization (a query's descriptors
// against the words) and of a k-means assignment block:
//   used       mda's matmul_transposed (oneDNN when the build has it, else OpenBLAS)
//   openblas   cblas_sgemm of OpenBLAS as loaded (its DYNAMIC_ARCH kernel; OPENBLAS_CORETYPE=...
//              picks another, e.g. to measure what a generic fallback costs)
//   onednn     dnnl_sgemm (kernels chosen from the CPU's features)
// Each figure is GFLOP/s; the ratio is the used kernel over the best one measured in this run.
//   mda_bench_sgemm [SECONDS_PER_MEASUREMENT=1]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "cpu_model.h"
#include "mda/asmk/matrix.h"

#ifdef MDA_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif
#ifdef MDA_HAVE_BLAS
#include <cblas.h>
#endif

namespace {

double gflops(const std::function<void()>& product, double flops, double seconds) {
  product();
  const auto start = std::chrono::steady_clock::now();
  int repeats = 0;
  double elapsed = 0;
  do {
    product();
    ++repeats;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  } while (elapsed < seconds);
  return flops * repeats / elapsed / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::stod(argv[1]) : 1.0;
  std::printf("cpu: %s\n", cpu_model().c_str());
  std::printf("used: %s\n", mda::matrix_kernel_description().c_str());
  if (!mda::openblas_core_name().empty())
    std::printf("openblas kernel: %s%s\n", mda::openblas_core_name().c_str(),
                mda::openblas_kernel_is_generic() ? " (generic on this CPU)" : "");
  struct Shape {
    const char* what;
    int64_t m, n, k;
  };
  const Shape shapes[] = {{"query 300 x 1024 words", 300, 1024, 128},
                          {"query 1000 x 65536 words", 1000, 65536, 128},
                          {"k-means block 4096 x 4096", 4096, 4096, 128}};
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uniform(-1, 1);
  std::printf("%-28s %10s %10s %10s %8s\n", "shape", "used", "openblas", "onednn", "ratio");
  for (const Shape& s : shapes) {
    std::vector<float> a(static_cast<size_t>(s.m * s.k)), b(static_cast<size_t>(s.n * s.k)),
        c(static_cast<size_t>(s.m * s.n));
    for (float& x : a) x = uniform(rng);
    for (float& x : b) x = uniform(rng);
    const double flops = 2.0 * s.m * s.n * s.k;
    const double used =
        gflops([&] { mda::matmul_transposed(s.m, s.n, s.k, a.data(), b.data(), c.data()); }, flops,
               seconds);
    double openblas = 0, onednn = 0;
#ifdef MDA_HAVE_BLAS
    openblas = gflops(
        [&] {
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(s.m),
                      static_cast<int>(s.n), static_cast<int>(s.k), 1.0f, a.data(),
                      static_cast<int>(s.k), b.data(), static_cast<int>(s.k), 0.0f, c.data(),
                      static_cast<int>(s.n));
        },
        flops, seconds);
#endif
#ifdef MDA_HAVE_DNNL
    onednn = gflops(
        [&] {
          dnnl_sgemm('N', 'T', s.m, s.n, s.k, 1.0f, a.data(), s.k, b.data(), s.k, 0.0f, c.data(),
                     s.n);
        },
        flops, seconds);
#endif
    const double best = std::max({used, openblas, onednn});
    std::printf("%-28s %10.1f %10.1f %10.1f %8.2f\n", s.what, used, openblas, onednn, used / best);
  }
  return 0;
}
