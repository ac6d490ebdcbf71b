#include "mda/asmk/matrix.h"

#include <algorithm>
#include <climits>
#include <limits>
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
  // The product is computed in tiles of rows x columns small enough to stay in cache while the
  // selection reads them; selection state (a max-heap of the `count` best per row) runs across
  // column tiles. ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2: the first term does not change the
  // order, so the selection compares ||c||^2 - 2 x.c and adds ||x||^2 at the end.
  constexpr int64_t kRows = 128, kColumns = 8192;
  const std::vector<float> x_norms = row_norms(x, n, d);
  std::vector<float> tile(static_cast<size_t>(kRows * kColumns));
  std::vector<std::pair<float, int32_t>> heaps(static_cast<size_t>(kRows * count));
  const int workers = std::max(1, threads);
  for (int64_t row0 = 0; row0 < n; row0 += kRows) {
    const int64_t m = std::min(kRows, n - row0);
    for (int64_t i = 0; i < m * count; ++i)
      heaps[static_cast<size_t>(i)] = {std::numeric_limits<float>::infinity(), INT32_MAX};
    for (int64_t col0 = 0; col0 < k; col0 += kColumns) {
      const int64_t c = std::min(kColumns, k - col0);
      matmul_transposed(m, c, d, x + row0 * d, centroids + col0 * d,
                        tile.data());  // BLAS threads itself
      const auto select = [&](int64_t from, int64_t to) {
        for (int64_t i = from; i < to; ++i) {
          const float* row = &tile[static_cast<size_t>(i * c)];
          const float* norms = &centroid_norms[static_cast<size_t>(col0)];
          std::pair<float, int32_t>* heap = &heaps[static_cast<size_t>(i * count)];
          if (count == 1) {
            // Sixteen independent running minima (vectorizable selects); ties to the lower index.
            constexpr int kLanes = 16;
            float lane_value[kLanes];
            int32_t lane_index[kLanes];
            for (int l = 0; l < kLanes; ++l) {
              lane_value[l] = std::numeric_limits<float>::infinity();
              lane_index[l] = INT32_MAX;
            }
            int64_t j = 0;
            for (; j + kLanes <= c; j += kLanes) {
              for (int l = 0; l < kLanes; ++l) {
                const float v = norms[j + l] - 2 * row[j + l];
                const bool better = v < lane_value[l];
                lane_value[l] = better ? v : lane_value[l];
                lane_index[l] = better ? static_cast<int32_t>(col0 + j + l) : lane_index[l];
              }
            }
            for (; j < c; ++j) {
              const float v = norms[j] - 2 * row[j];
              if (v < lane_value[0] || (v == lane_value[0] && col0 + j < lane_index[0])) {
                lane_value[0] = v;
                lane_index[0] = static_cast<int32_t>(col0 + j);
              }
            }
            for (int l = 0; l < kLanes; ++l) {
              if (lane_value[l] < heap[0].first ||
                  (lane_value[l] == heap[0].first && lane_index[l] < heap[0].second)) {
                heap[0] = {lane_value[l], lane_index[l]};
              }
            }
            continue;
          }
          for (int64_t j = 0; j < c; ++j) {
            const float v = norms[j] - 2 * row[j];
            if (v >= heap[0].first)
              continue;  // not better than the worst kept (ties: lower index kept)
            std::pop_heap(heap, heap + count);
            heap[count - 1] = {v, static_cast<int32_t>(col0 + j)};
            std::push_heap(heap, heap + count);
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
    for (int64_t i = 0; i < m; ++i) {
      std::pair<float, int32_t>* heap = &heaps[static_cast<size_t>(i * count)];
      std::sort_heap(heap, heap + count);
      for (int a = 0; a < count; ++a) {
        indices[(row0 + i) * count + a] = heap[a].second;
        distances[(row0 + i) * count + a] =
            std::max(0.0f, heap[a].first + x_norms[static_cast<size_t>(row0 + i)]);
      }
    }
  }
}

}  // namespace mda
