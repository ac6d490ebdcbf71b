#include "mda/asmk/matrix.h"

#include <algorithm>
#include <thread>

#include "mda/util/error.h"

#ifdef MDA_HAVE_BLAS
#include <cblas.h>
#endif

namespace mda {

bool blas_available() {
#ifdef MDA_HAVE_BLAS
  return true;
#else
  return false;
#endif
}

void matmul_transposed(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c) {
  if (m == 0 || n == 0) return;
#ifdef MDA_HAVE_BLAS
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), 1.0f, a, static_cast<int>(k), b, static_cast<int>(k), 0.0f, c,
              static_cast<int>(n));
#else
  constexpr int64_t kBlock = 64;
  for (int64_t i0 = 0; i0 < m; i0 += kBlock) {
    for (int64_t j0 = 0; j0 < n; j0 += kBlock) {
      for (int64_t i = i0; i < std::min(m, i0 + kBlock); ++i) {
        for (int64_t j = j0; j < std::min(n, j0 + kBlock); ++j) {
          float s = 0;
          for (int64_t t = 0; t < k; ++t) s += a[i * k + t] * b[j * k + t];
          c[i * n + j] = s;
        }
      }
    }
  }
#endif
}

std::vector<float> row_norms(const float* x, int64_t n, int64_t d) {
  std::vector<float> norms(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    float s = 0;
    for (int64_t t = 0; t < d; ++t) s += x[i * d + t] * x[i * d + t];
    norms[static_cast<size_t>(i)] = s;
  }
  return norms;
}

void nearest_centroids(const float* x, int64_t n, const float* centroids,
                       const std::vector<float>& centroid_norms, int64_t k, int64_t d, int count,
                       int32_t* indices, float* distances, int threads) {
  if (count < 1 || count > k) fail("cannot assign ", count, " words out of ", k);
  // Rows per block: the block's score matrix (rows x k floats) stays around 32 MiB.
  const int64_t rows =
      std::max<int64_t>(1, std::min<int64_t>(1024, (int64_t{8} << 20) / std::max<int64_t>(k, 1)));
  const std::vector<float> x_norms = row_norms(x, n, d);
  std::vector<float> dots(static_cast<size_t>(rows * k));
  const int workers = std::max(1, threads);
  for (int64_t start = 0; start < n; start += rows) {
    const int64_t m = std::min(rows, n - start);
    matmul_transposed(m, k, d, x + start * d, centroids, dots.data());  // BLAS threads itself
    // Selection of the nearest `count` per row, split over threads.
    const auto select = [&](int64_t from, int64_t to) {
      std::vector<std::pair<float, int32_t>> best;
      for (int64_t i = from; i < to; ++i) {
        const float* row = &dots[static_cast<size_t>(i * k)];
        best.clear();
        for (int64_t j = 0; j < k; ++j) {
          const float dist = x_norms[static_cast<size_t>(start + i)] - 2 * row[j] +
                             centroid_norms[static_cast<size_t>(j)];
          const std::pair<float, int32_t> item(dist, static_cast<int32_t>(j));
          if (static_cast<int>(best.size()) < count) {
            best.push_back(item);
            std::push_heap(best.begin(), best.end());
          } else if (item < best.front()) {
            std::pop_heap(best.begin(), best.end());
            best.back() = item;
            std::push_heap(best.begin(), best.end());
          }
        }
        std::sort_heap(best.begin(), best.end());
        for (int c = 0; c < count; ++c) {
          indices[(start + i) * count + c] = best[static_cast<size_t>(c)].second;
          distances[(start + i) * count + c] = std::max(0.0f, best[static_cast<size_t>(c)].first);
        }
      }
    };
    if (workers == 1 || m < 64) {
      select(0, m);
    } else {
      std::vector<std::thread> pool;
      for (int w = 0; w < workers; ++w)
        pool.emplace_back(select, m * w / workers, m * (w + 1) / workers);
      for (auto& t : pool) t.join();
    }
  }
}

}  // namespace mda
