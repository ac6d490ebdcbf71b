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
  // Rows per block: the block's product matrix (rows x k floats) stays around 64 MiB.
  const int64_t rows =
      std::max<int64_t>(1, std::min<int64_t>(1024, (int64_t{16} << 20) / std::max<int64_t>(k, 1)));
  const std::vector<float> x_norms = row_norms(x, n, d);
  std::vector<float> dots(static_cast<size_t>(rows * k));
  const int workers = std::max(1, threads);
  for (int64_t start = 0; start < n; start += rows) {
    const int64_t m = std::min(rows, n - start);
    matmul_transposed(m, k, d, x + start * d, centroids, dots.data());  // BLAS threads itself
    // ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2; the first term does not change the order, so the
    // selection compares ||c||^2 - 2 x.c and adds ||x||^2 at the end.
    const auto select = [&](int64_t from, int64_t to) {
      std::vector<std::pair<float, int32_t>> best;
      for (int64_t i = from; i < to; ++i) {
        const float* row = &dots[static_cast<size_t>(i * k)];
        const float x_norm = x_norms[static_cast<size_t>(start + i)];
        int32_t* out_index = indices + (start + i) * count;
        float* out_distance = distances + (start + i) * count;
        if (count == 1) {
          float best_value = centroid_norms[0] - 2 * row[0];
          int32_t best_index = 0;
          for (int64_t j = 1; j < k; ++j) {
            const float v = centroid_norms[static_cast<size_t>(j)] - 2 * row[j];
            if (v < best_value) {
              best_value = v;
              best_index = static_cast<int32_t>(j);
            }
          }
          out_index[0] = best_index;
          out_distance[0] = std::max(0.0f, best_value + x_norm);
          continue;
        }
        best.clear();
        for (int64_t j = 0; j < count; ++j)
          best.emplace_back(centroid_norms[static_cast<size_t>(j)] - 2 * row[j],
                            static_cast<int32_t>(j));
        std::make_heap(best.begin(), best.end());
        for (int64_t j = count; j < k; ++j) {
          const float v = centroid_norms[static_cast<size_t>(j)] - 2 * row[j];
          if (v >= best.front().first)
            continue;  // not better than the worst kept (ties: lower index kept)
          std::pop_heap(best.begin(), best.end());
          best.back() = {v, static_cast<int32_t>(j)};
          std::push_heap(best.begin(), best.end());
        }
        std::sort_heap(best.begin(), best.end());
        for (int c = 0; c < count; ++c) {
          out_index[c] = best[static_cast<size_t>(c)].second;
          out_distance[c] = std::max(0.0f, best[static_cast<size_t>(c)].first + x_norm);
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
