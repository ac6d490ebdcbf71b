#include "mda/asmk/matrix.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>

#include "mda/asmk/screened_products.h"
#include "mda/util/cpu_features.h"
#include "mda/util/error.h"
#include "mda/util/run_on_threads.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#ifdef MDA_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif
#ifdef MDA_HAVE_BLAS
#include <cblas.h>
#endif

#include "mda/util/log.h"
#include "mda/util/strings.h"

#ifdef MDA_HAVE_BLAS
extern "C" char* openblas_get_corename(void);
extern "C" char* openblas_get_config(void);
extern "C" void openblas_set_num_threads(int);
#endif
#ifdef MDA_HAVE_DNNL
// libdnnl's OpenMP runtime (it links libgomp); declared here so the build needs no -fopenmp.
extern "C" void omp_set_num_threads(int);
extern "C" int omp_get_max_threads(void);
#endif

namespace mda {

namespace {

// oneDNN's products run on OpenMP threads, whose number is a setting of the calling thread.
void set_this_thread_matrix_threads(int threads) {
#ifdef MDA_HAVE_DNNL
  omp_set_num_threads(threads);
#else
  (void)threads;
#endif
}

// Runs `work` with this thread's products single-threaded, then restores its setting.
template <typename Work>
void with_single_threaded_products(const Work& work) {
#ifdef MDA_HAVE_DNNL
  const int before = omp_get_max_threads();
  omp_set_num_threads(1);
  try {
    work();
  } catch (...) {
    omp_set_num_threads(before);
    throw;
  }
  omp_set_num_threads(before);
#else
  work();
#endif
}

}  // namespace

bool blas_available() {
#if defined(MDA_HAVE_BLAS) || defined(MDA_HAVE_DNNL)
  return true;
#else
  return false;
#endif
}

namespace {

#ifdef MDA_HAVE_DNNL
const char* dnnl_isa_name(dnnl_cpu_isa_t isa) {
  switch (isa) {
    case dnnl_cpu_isa_sse41:
      return "sse41";
    case dnnl_cpu_isa_avx:
      return "avx";
    case dnnl_cpu_isa_avx2:
      return "avx2";
    case dnnl_cpu_isa_avx512_mic:
      return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops:
      return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core:
      return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx:
      return "avx512_core_amx";
    case dnnl_cpu_isa_avx2_vnni:
      return "avx2_vnni";
    default:
      return "generic";
  }
}
#endif

}  // namespace

std::string openblas_core_name() {
#ifdef MDA_HAVE_BLAS
  return openblas_get_corename();
#else
  return "";
#endif
}

bool openblas_kernel_is_generic() {
#if defined(MDA_HAVE_BLAS) && defined(__x86_64__) && defined(__GNUC__)
  static const char* const kGeneric[] = {
      "Prescott", "Core2", "Katmai",  "Coppermine", "Northwood",    "Penryn",    "Dunnington",
      "Nehalem",  "Atom",  "generic", "Opteron",    "Opteron_SSE3", "Barcelona", "Bobcat"};
  if (!__builtin_cpu_supports("avx2")) return false;  // an old CPU: its kernel may be the best
  const std::string core = openblas_core_name();
  for (const char* name : kGeneric)
    if (core == name) return true;
#endif
  return false;
}

std::string matrix_kernel_description() {
#ifdef MDA_HAVE_DNNL
  const dnnl_version_t* v = dnnl_version();
  return cat("oneDNN ", v->major, ".", v->minor, ".", v->patch, " sgemm, ",
             dnnl_isa_name(dnnl_get_effective_cpu_isa()),
             " kernels (chosen from the CPU's features)",
             uses_screened_products(kMinScreenedWords)
                 ? cat("; quantization against ", kMinScreenedWords,
                       " words or more: int8 products screened by their error bound, candidates "
                       "recomputed in float")
                 : std::string());
#elif defined(MDA_HAVE_BLAS)
  return cat(openblas_get_config(), ", ", openblas_core_name(), " kernel",
             openblas_kernel_is_generic()
                 ? " (a generic kernel on a CPU with AVX2: set OPENBLAS_CORETYPE, e.g. Haswell or "
                   "SkylakeX, or build with oneDNN)"
                 : "");
#else
  return "no BLAS: a blocked loop";
#endif
}

void set_matrix_threads(int threads) {
  threads = std::max(1, threads);
  set_this_thread_matrix_threads(threads);
#ifdef MDA_HAVE_BLAS
  openblas_set_num_threads(threads);
#endif
}

namespace {
// The first value of x[0, total) that is not finite or exceeds 1e16 in magnitude, or total. Blocks
// are tested without a branch per value, so that the loop vectorizes (the early exit of a plain
// loop kept it scalar: 40 us per 1,000 x 128 query, 7 us now); the offender is found afterwards.
__attribute__((target_clones("avx2", "default"))) int64_t first_bad_value(const float* x,
                                                                          int64_t total) {
  constexpr int64_t kBlock = 1024;
  int64_t v = 0;
  for (; v + kBlock <= total; v += kBlock) {
    int bad = 0;
    for (int64_t t = v; t < v + kBlock; ++t) bad |= !(std::fabs(x[t]) <= 1e16f);
    if (bad) break;
  }
  for (; v < total; ++v)
    if (!(std::fabs(x[v]) <= 1e16f)) return v;
  return total;
}
}  // namespace

void check_descriptor_values(const float* x, int64_t n, int64_t d, const std::string& what) {
  const int64_t v = first_bad_value(x, n * d);
  if (v < n * d) {
    fail(what, ": descriptor ", v / d, " holds ", x[v], " at column ", v % d,
         "; descriptors must be finite, of magnitude at most 1e16");
  }
}

void log_matrix_kernel() {
  static std::once_flag once;
  std::call_once(once, [] {
    log_debug("matrix products: ", matrix_kernel_description());
#if !defined(MDA_HAVE_DNNL) && defined(MDA_HAVE_BLAS)
    if (openblas_kernel_is_generic()) {
      log_warning("OpenBLAS runs its generic '", openblas_core_name(),
                  "' kernel on this CPU, which has AVX2: k-means and quantization run several "
                  "times slower than they could; set OPENBLAS_CORETYPE (Haswell, SkylakeX, "
                  "Cooperlake) or build with oneDNN (apt-get install libdnnl-dev)");
    }
#endif
  });
}

void matmul_transposed(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c) {
  if (m == 0 || n == 0) return;
#if defined(MDA_HAVE_DNNL)
  if (dnnl_sgemm('N', 'T', m, n, k, 1.0f, a, k, b, k, 0.0f, c, n) != dnnl_success)
    fail("oneDNN sgemm failed on a ", m, " x ", k, " by ", n, " x ", k, " product");
#elif defined(MDA_HAVE_BLAS)
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

namespace {

std::atomic<ProductMethod> g_product_method{ProductMethod::kAuto};

ProductMethod method_from_environment() {
  const char* value = std::getenv("MDA_PRODUCTS");
  if (!value || !*value) return ProductMethod::kAuto;
  const std::string v = value;
  if (v == "float") return ProductMethod::kFloat;
  if (v == "int8") return ProductMethod::kInt8Screened;
  fail("MDA_PRODUCTS='", v, "': expected float or int8 (or unset, to choose by the CPU)");
}

}  // namespace

void set_product_method(ProductMethod method) { g_product_method = method; }

bool uses_screened_products(int64_t words) {
  if (!screened_products_available()) return false;
  ProductMethod method = g_product_method.load();
  if (method == ProductMethod::kAuto) {
    static const ProductMethod from_environment = method_from_environment();
    method = from_environment;
  }
  if (method == ProductMethod::kAuto) return cpu_has_vnni() && words >= kMinScreenedWords;
  return method == ProductMethod::kInt8Screened;
}

bool screens_centroids(int64_t k, int64_t d) {
  return uses_screened_products(k) && d <= kMaxScreenedDimension;
}

namespace {

// The running nearest word of one row over one column tile: `row` holds x.c, `norms` ||c||^2.
// Two interleaved sets of eight running minima (GCC/Clang vector extensions), ties to the lower
// index; compiled for AVX2 too on x86-64, chosen at run time.
using Floats8 = float __attribute__((vector_size(32)));
using Ints8 = int32_t __attribute__((vector_size(32)));

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
void nearest_in_tile(const float* row, const float* norms, int64_t c, int64_t col0, float& best,
                     int32_t& best_index) {
  const float inf = std::numeric_limits<float>::infinity();
  Floats8 lane_value[2] = {{inf, inf, inf, inf, inf, inf, inf, inf},
                           {inf, inf, inf, inf, inf, inf, inf, inf}};
  Ints8 lane_index[2] = {Ints8{} + INT32_MAX, Ints8{} + INT32_MAX};
  Ints8 index = Ints8{0, 1, 2, 3, 4, 5, 6, 7} + static_cast<int32_t>(col0);
  int64_t j = 0;
  for (; j + 16 <= c; j += 16, index += 16) {
    for (int u = 0; u < 2; ++u) {
      Floats8 x, n;
      std::memcpy(&x, row + j + 8 * u, sizeof x);
      std::memcpy(&n, norms + j + 8 * u, sizeof n);
      const Floats8 v = n - 2 * x;
      const Ints8 better = v < lane_value[u];
      lane_value[u] = better ? v : lane_value[u];
      lane_index[u] = better ? index + 8 * u : lane_index[u];
    }
  }
  const auto offer = [&](float value, int32_t at) {
    if (value < best || (value == best && at < best_index)) {
      best = value;
      best_index = at;
    }
  };
  for (int u = 0; u < 2; ++u) {
    for (int l = 0; l < 8; ++l) offer(lane_value[u][l], lane_index[u][l]);
  }
  for (; j < c; ++j) offer(norms[j] - 2 * row[j], static_cast<int32_t>(col0 + j));
}

// Offers column `at` with value `value` to a row's max-heap of its `count` best (value, index),
// whose top is the worst kept. Columns arrive in increasing index, so "strictly better than the
// worst" keeps ties to the lower index.
inline void offer_to_heap(std::pair<float, int32_t>* heap, int count, float value, int64_t at) {
  if (value >= heap[0].first) return;
  std::pop_heap(heap, heap + count);
  heap[count - 1] = {value, static_cast<int32_t>(at)};
  std::push_heap(heap, heap + count);
}

// The running `count` nearest words of one row over one column tile. Once the heap has settled
// only a handful of a row's columns beat its worst, so the AVX2 version compares eight columns at
// a time with that worst and offers only the lanes that beat it.
void nearest_k_in_tile_portable(const float* row, const float* norms, int64_t c, int64_t col0,
                                std::pair<float, int32_t>* heap, int count) {
  for (int64_t j = 0; j < c; ++j) offer_to_heap(heap, count, norms[j] - 2 * row[j], col0 + j);
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) void nearest_k_in_tile_avx2(const float* row, const float* norms,
                                                            int64_t c, int64_t col0,
                                                            std::pair<float, int32_t>* heap,
                                                            int count) {
  int64_t j = 0;
  for (; j + 8 <= c; j += 8) {
    const __m256 x = _mm256_loadu_ps(row + j);
    const __m256 v = _mm256_sub_ps(_mm256_loadu_ps(norms + j), _mm256_add_ps(x, x));
    unsigned better = static_cast<unsigned>(
        _mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_set1_ps(heap[0].first), _CMP_LT_OQ)));
    if (!better) continue;
    alignas(32) float values[8];
    _mm256_store_ps(values, v);
    for (; better; better &= better - 1) {
      const int lane = __builtin_ctz(better);
      offer_to_heap(heap, count, values[lane], col0 + j + lane);
    }
  }
  nearest_k_in_tile_portable(row + j, norms + j, c - j, col0 + j, heap, count);
}
const bool kHaveAvx2 = __builtin_cpu_supports("avx2");
#endif

void nearest_k_in_tile(const float* row, const float* norms, int64_t c, int64_t col0,
                       std::pair<float, int32_t>* heap, int count) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (kHaveAvx2) return nearest_k_in_tile_avx2(row, norms, c, col0, heap, count);
#endif
  nearest_k_in_tile_portable(row, norms, c, col0, heap, count);
}

}  // namespace

void nearest_centroids(const float* x, int64_t n, const float* centroids,
                       const std::vector<float>& centroid_norms, int64_t k, int64_t d, int count,
                       int32_t* indices, float* distances, int threads,
                       const CentroidScreen* screen) {
  if (count < 1 || count > k) fail("cannot assign ", count, " words out of ", k);
  CentroidScreen built_screen;
  const bool screened = screens_centroids(k, d);
  if (screened && !screen) {
    built_screen = CentroidScreen::build(centroids, k, d);
    screen = &built_screen;
  }
  if (!screened) screen = nullptr;
  if (screen && (screen->k != k || screen->d != d))
    fail("int8 screen of ", screen->k, " x ", screen->d, " for ", k, " x ", d, " centroids");
  // The product is computed in tiles of rows x columns (8 MiB: large enough for BLAS to run near
  // its full rate, small enough to stay in a last-level cache while the selection reads them;
  // measured on the benchmark, twice the size fell out of a 32 MiB cache); selection state (a
  // max-heap of the `count` best per row) runs across column tiles. ||x - c||^2 = ||x||^2 - 2 x.c +
  // ||c||^2: the first term does not change the order, so the selection compares ||c||^2 - 2 x.c
  // and adds ||x||^2 at the end.
  constexpr int64_t kRows = kNearestCentroidRows, kColumns = 8192;
  const std::vector<float> x_norms = screen ? std::vector<float>() : row_norms(x, n, d);
  // Rows row0 .. row_end (at most kRows): their products, column tile by column tile, and their
  // selection.
  const auto row_tile = [&](int64_t row0, int64_t row_end, std::vector<float>& tile,
                            std::vector<std::pair<float, int32_t>>& heaps, ScreenScratch& scratch) {
    const int64_t m = row_end - row0;
    if (screen) {
      screened_nearest_centroids(x + row0 * d, m, *screen, centroids, centroid_norms.data(), count,
                                 indices + row0 * count, distances + row0 * count, scratch);
      return;
    }
    const size_t tile_size = static_cast<size_t>(m * std::min(kColumns, k));
    if (tile.size() < tile_size) tile.resize(tile_size);
    heaps.assign(static_cast<size_t>(m * count),
                 {std::numeric_limits<float>::infinity(), INT32_MAX});
    for (int64_t col0 = 0; col0 < k; col0 += kColumns) {
      const int64_t c = std::min(kColumns, k - col0);
      matmul_transposed(m, c, d, x + row0 * d, centroids + col0 * d, tile.data());
      const float* norms = &centroid_norms[static_cast<size_t>(col0)];
      for (int64_t i = 0; i < m; ++i) {
        const float* row = &tile[static_cast<size_t>(i * c)];
        std::pair<float, int32_t>* heap = &heaps[static_cast<size_t>(i * count)];
        if (count == 1) {
          nearest_in_tile(row, norms, c, col0, heap[0].first, heap[0].second);
        } else {
          nearest_k_in_tile(row, norms, c, col0, heap, count);
        }
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
  };
  const int64_t tiles = (n + kRows - 1) / kRows;
  const int workers = static_cast<int>(std::min<int64_t>(std::max(1, threads), tiles));
  if (workers <= 1 || tiles < 2 * workers) {
    // A query's few hundred rows: split evenly among up to `threads` workers of at least
    // kMinRowsPerWorker rows (whole 256-row tiles would give two threads a 256- and a 44-row
    // share of 300 rows). Every product is single-threaded: an OpenMP team would keep spinning
    // on the cores after the product, and the scan that follows on those cores ran up to twice as
    // slow on two threads as on one (docs/scaling.md). The buffers are kept by the calling
    // thread: allocating (and page-faulting) a fresh tile for each query cost as much as its
    // product.
    constexpr int64_t kMinRowsPerWorker = 64;
    const int parts = static_cast<int>(
        std::max<int64_t>(1, std::min<int64_t>(std::max(1, threads), n / kMinRowsPerWorker)));
    thread_local std::vector<std::vector<float>> kept_tiles;
    thread_local std::vector<std::vector<std::pair<float, int32_t>>> kept_heaps;
    thread_local std::vector<ScreenScratch> kept_scratch;
    if (kept_tiles.size() < static_cast<size_t>(parts)) {
      kept_tiles.resize(static_cast<size_t>(parts));
      kept_heaps.resize(static_cast<size_t>(parts));
      kept_scratch.resize(static_cast<size_t>(parts));
    }
    // The calling thread's buffers, named here so that the workers use them, not their own.
    std::vector<std::vector<float>>& tiles_of_part = kept_tiles;
    std::vector<std::vector<std::pair<float, int32_t>>>& heaps_of_part = kept_heaps;
    std::vector<ScreenScratch>& scratch_of_part = kept_scratch;
    const auto part = [&](int p) {
      const int64_t first = n * p / parts, end = n * (p + 1) / parts;
      for (int64_t row0 = first; row0 < end; row0 += kRows) {
        row_tile(row0, std::min(end, row0 + kRows), tiles_of_part[static_cast<size_t>(p)],
                 heaps_of_part[static_cast<size_t>(p)], scratch_of_part[static_cast<size_t>(p)]);
      }
    };
    if (parts == 1) {
      with_single_threaded_products([&] { part(0); });
    } else {
      run_on_threads(parts, [&](int p) {
        set_this_thread_matrix_threads(1);
        part(p);
      });
    }
    return;
  }
  // Many rows (a database block, k-means): `workers` threads take whole row tiles, each running a
  // single-threaded product and its own selection. One pool, no OpenMP workers spinning beside it
  // (they took the cores the selection threads needed: two threads ran slower than one).
  std::atomic<int64_t> next{0};
  run_on_threads(workers, [&](int) {
    set_this_thread_matrix_threads(1);
    std::vector<float> tile;
    std::vector<std::pair<float, int32_t>> heaps;
    ScreenScratch scratch;
    for (int64_t t = next++; t < tiles; t = next++)
      row_tile(t * kRows, std::min(n, (t + 1) * kRows), tile, heaps, scratch);
  });
}

}  // namespace mda
