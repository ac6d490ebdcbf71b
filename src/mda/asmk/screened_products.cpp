#include "mda/asmk/screened_products.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>

#include "mda/util/error.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif
#ifdef MDA_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

namespace mda {
namespace {

#if defined(__x86_64__) && defined(__GNUC__)
// The running maximum of |v| over the first multiple of eight columns, eight lanes at a time
// (with the value first, max_ps keeps the running maximum where the value is a NaN); returns
// the columns done. A dependent scalar maximum per column was a tenth of a 1,024-word
// quantization.
__attribute__((target("avx2"))) int64_t largest_magnitude_avx2(const float* v, int64_t d,
                                                               float& largest) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 most = _mm256_setzero_ps();
  int64_t t = 0;
  for (; t + 8 <= d; t += 8)
    most = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(v + t)), most);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, most);
  for (float lane : lanes) largest = std::max(largest, lane);
  return t;
}
const bool kHaveAvx2ForRounding = __builtin_cpu_supports("avx2");
#endif

// max |v_t| (0 for an empty row; a NaN is skipped, as std::max skips it).
float largest_magnitude(const float* v, int64_t d) {
  float largest = 0;
  int64_t t = 0;
#if defined(__x86_64__) && defined(__GNUC__)
  if (kHaveAvx2ForRounding) t = largest_magnitude_avx2(v, d, largest);
#endif
  for (; t < d; ++t) largest = std::max(largest, std::fabs(v[t]));
  return largest;
}

// Rounds one row to int8 codes with step max|v| / 127 (to nearest, ties to even: adding and
// subtracting 1.5 * 2^23 rounds a float of magnitude below 2^22 to an integer, vectorised where
// a library call would not be); returns the step.
float round_row(const float* v, int64_t d, int8_t* codes) {
  if (d <= 0) return 0;
  const float largest = largest_magnitude(v, d);
  if (largest == 0) {
    std::fill(codes, codes + d, int8_t{0});
    return 0;
  }
  const float step = largest / 127, inverse = 127 / largest;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23
  for (int64_t t = 0; t < d; ++t) {
    const float q = std::max(-127.0f, std::min(127.0f, (v[t] * inverse + kRound) - kRound));
    codes[t] = static_cast<int8_t>(q);
  }
  return step;
}

#ifdef MDA_HAVE_DNNL  // the screen's helpers, used only where the int8 products exist

// The bound's constants are inflated by these to cover the float rounding of computing them (a
// few roundings of 2^-24 each, far below both).
constexpr float kBoundInflation = 1.0f + 1.0f / 1024;
constexpr float kSlackFraction = 1.0f / (1 << 18);
constexpr int64_t kColumns = 4096;  // a tile of m x 4096 int32 products: 4 MiB at 256 rows

// x.c in float, eight interleaved partial sums in a fixed order: the exact recomputation.
using Floats8 = float __attribute__((vector_size(32)));
inline float dot(const float* a, const float* b, int64_t d) {
  Floats8 sum{};
  int64_t t = 0;
  for (; t + 8 <= d; t += 8) {
    Floats8 x, y;
    std::memcpy(&x, a + t, sizeof x);
    std::memcpy(&y, b + t, sizeof y);
    sum += x * y;
  }
  float s = ((sum[0] + sum[1]) + (sum[2] + sum[3])) + ((sum[4] + sum[5]) + (sum[6] + sum[7]));
  for (; t < d; ++t) s += a[t] * b[t];
  return s;
}

// Each candidate's value norm_j - 2 x.c_j, exactly as `dot` computes it. Cloned for AVX2 without
// FMA (the same multiplies and adds, so the same bits): the baseline build splits the eight sums
// over two SSE registers and kept them on the stack.
__attribute__((target_clones("avx2", "default"))) void recompute_candidates(
    const float* row, const float* centroids, const float* centroid_norms, int64_t d,
    std::pair<float, int32_t>* candidates, size_t count) {
  for (size_t n = 0; n < count; ++n) {
    const int32_t j = candidates[n].second;
    candidates[n] = {centroid_norms[j] - 2 * dot(row, centroids + j * d, d), j};
  }
}

// The first tile of a row is screened in two passes. The first finds the count smallest upper
// bounds so far (a max-heap of count values, the row's `heap`); the second keeps as candidates
// the words whose lower bound is at most the count-th of them plus twice the slack: the true
// count nearest always pass, whatever the rounding of either bound. A threshold known before the
// second pass offers each row only about its final candidates; choosing them in one pass with a
// threshold that settles as it goes offered twice as many, each a mispredicted branch and a heap
// update. Later tiles take one pass (tile_offers_*).
inline float upper_bound(int32_t product, float norm, float step, float l1, const RowScreen& r) {
  return norm - step * (static_cast<float>(product) * r.scale - r.row_l1) + l1 * r.row_step;
}
inline float lower_bound(int32_t product, float norm, float step, float l1, const RowScreen& r) {
  return norm - step * (static_cast<float>(product) * r.scale + r.row_l1) - l1 * r.row_step;
}
inline void offer_upper(float upper, float* heap, int count) {
  if (upper < heap[0]) {
    std::pop_heap(heap, heap + count);
    heap[count - 1] = upper;
    std::push_heap(heap, heap + count);
  }
}
// What a lower bound is compared with once the heap holds this tile's upper bounds.
inline float candidate_limit(const RowScreen& r, const float* heap) {
  return heap[0] + 2 * r.slack;
}

// The first pass: the upper bounds offered to the heap, the lower bounds written over the products.
void tile_bounds_portable(int32_t* products, const float* norms, const float* step, const float* l1,
                          int64_t c, const RowScreen& r, float* heap, int count) {
  for (int64_t j = 0; j < c; ++j) {
    offer_upper(upper_bound(products[j], norms[j], step[j], l1[j], r), heap, count);
    const float lower = lower_bound(products[j], norms[j], step[j], l1[j], r);
    std::memcpy(products + j, &lower, sizeof lower);
  }
}

// The second pass: the words whose lower bound is at most the limit.
void tile_candidates_portable(const int32_t* lowers_as_products, int64_t c, int64_t col0,
                              float limit, std::vector<std::pair<float, int32_t>>& candidates) {
  for (int64_t j = 0; j < c; ++j) {
    float lower;
    std::memcpy(&lower, lowers_as_products + j, sizeof lower);
    if (lower <= limit) candidates.emplace_back(lower, static_cast<int32_t>(col0 + j));
  }
}

// The later tiles of a long row in one pass: the first tile's threshold is already close to the
// row's, so few words pass it, and each that does lowers it with its own upper bound (a second
// pass over every tile cost more than it saved at 65,536 words).
void tile_offers_portable(const int32_t* products, const float* norms, const float* step,
                          const float* l1, int64_t c, int64_t col0, const RowScreen& r, float* heap,
                          int count, std::vector<std::pair<float, int32_t>>& candidates) {
  for (int64_t j = 0; j < c; ++j) {
    const float lower = lower_bound(products[j], norms[j], step[j], l1[j], r);
    if (lower <= candidate_limit(r, heap)) {
      candidates.emplace_back(lower, static_cast<int32_t>(col0 + j));
      offer_upper(upper_bound(products[j], norms[j], step[j], l1[j], r), heap, count);
    }
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
// A row's constants of the lower bound broadcast to eight lanes: made once per row, so that the
// loops keep them in registers.
struct LowerBoundConstants8 {
  __m256 scale, minus_row_l1, minus_row_step;
};
__attribute__((target("avx2,fma"))) inline LowerBoundConstants8 lower_bound_constants8(
    const RowScreen& r) {
  return {_mm256_set1_ps(r.scale), _mm256_set1_ps(-r.row_l1), _mm256_set1_ps(-r.row_step)};
}

// Columns j .. j + 7's lower bounds without the slack, three multiply-adds:
// norm - step * (p * scale + row_l1) - l1 * row_step.
__attribute__((target("avx2,fma"))) inline __m256 lower_bounds8(const int32_t* products,
                                                                const float* norms,
                                                                const float* step, const float* l1,
                                                                int64_t j,
                                                                const LowerBoundConstants8& b) {
  const __m256 p =
      _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(products + j)));
  return _mm256_fmadd_ps(
      _mm256_loadu_ps(l1 + j), b.minus_row_step,
      _mm256_fnmadd_ps(_mm256_loadu_ps(step + j), _mm256_fmsub_ps(p, b.scale, b.minus_row_l1),
                       _mm256_loadu_ps(norms + j)));
}

// The first pass: each of sixteen lanes keeps its Depth smallest upper bounds in sorted registers
// (a min/max insertion, no branch), and those 16 x Depth values go to the heap. The count-th
// smallest of them is the row's exact count-th smallest upper bound unless more than Depth of the
// count smallest share a lane, and never below it (they are upper bounds of distinct words), so
// the screen stays exact either way; two per lane keep the threshold exact for nearly every row
// at a third of the insertions that five would take.
constexpr int kMostWords = 32;  // the vector screen's most words per row (more: portable)
template <int Depth>
__attribute__((target("avx2,fma"))) inline void insert(__m256* sorted, __m256 v) {
  for (int q = 0; q < Depth; ++q) {
    const __m256 low = _mm256_min_ps(sorted[q], v);
    v = _mm256_max_ps(sorted[q], v);
    sorted[q] = low;
  }
}
// Both bounds of columns j .. j + 7 from one conversion of their products: the upper returned, the
// lower written over the products (as floats), for the second pass to read.
__attribute__((target("avx2,fma"))) inline __m256 both_bounds8(
    int32_t* products, const float* norms, const float* step, const float* l1, int64_t j,
    const __m256& scale, const __m256& row_l1, const __m256& row_step) {
  const __m256 p =
      _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(products + j)));
  const __m256 norm = _mm256_loadu_ps(norms + j), s = _mm256_loadu_ps(step + j),
               l = _mm256_loadu_ps(l1 + j);
  const __m256 lower =
      _mm256_fnmadd_ps(l, row_step, _mm256_fnmadd_ps(s, _mm256_fmadd_ps(p, scale, row_l1), norm));
  _mm256_storeu_ps(reinterpret_cast<float*>(products + j), lower);
  return _mm256_fmadd_ps(l, row_step, _mm256_fnmadd_ps(s, _mm256_fmsub_ps(p, scale, row_l1), norm));
}

template <int Depth>
__attribute__((target("avx2,fma"))) void tile_bounds_avx2(int32_t* products, const float* norms,
                                                          const float* step, const float* l1,
                                                          int64_t c, const RowScreen& r,
                                                          float* heap, int count) {
  const __m256 scale = _mm256_set1_ps(r.scale), row_l1 = _mm256_set1_ps(r.row_l1),
               row_step = _mm256_set1_ps(r.row_step);
  __m256 best[2][Depth];
  for (auto& set : best)
    for (__m256& v : set) v = _mm256_set1_ps(std::numeric_limits<float>::infinity());
  int64_t j = 0;
  for (; j + 16 <= c; j += 16) {
    insert<Depth>(best[0], both_bounds8(products, norms, step, l1, j, scale, row_l1, row_step));
    insert<Depth>(best[1], both_bounds8(products, norms, step, l1, j + 8, scale, row_l1, row_step));
  }
  if (j + 8 <= c) {
    insert<Depth>(best[0], both_bounds8(products, norms, step, l1, j, scale, row_l1, row_step));
    j += 8;
  }
  alignas(32) float lanes[8];
  for (auto& set : best) {
    for (const __m256& v : set) {
      _mm256_store_ps(lanes, v);
      for (float u : lanes) offer_upper(u, heap, count);
    }
  }
  tile_bounds_portable(products + j, norms + j, step + j, l1 + j, c - j, r, heap, count);
}

// The second pass over the lower bounds the first wrote.
__attribute__((target("avx2,fma"))) void tile_candidates_avx2(
    const int32_t* lowers_as_products, int64_t c, int64_t col0, float limit,
    std::vector<std::pair<float, int32_t>>& candidates) {
  const float* lowers = reinterpret_cast<const float*>(lowers_as_products);
  const __m256 limits = _mm256_set1_ps(limit);
  int64_t j = 0;
  for (; j + 8 <= c; j += 8) {
    unsigned pass = static_cast<unsigned>(
        _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(lowers + j), limits, _CMP_LE_OQ)));
    for (; pass; pass &= pass - 1) {
      const int64_t at = j + __builtin_ctz(pass);
      float lower;
      std::memcpy(&lower, lowers_as_products + at, sizeof lower);
      candidates.emplace_back(lower, static_cast<int32_t>(col0 + at));
    }
  }
  tile_candidates_portable(lowers_as_products + j, c - j, col0 + j, limit, candidates);
}
__attribute__((target("avx2,fma"))) void tile_offers_avx2(
    const int32_t* products, const float* norms, const float* step, const float* l1, int64_t c,
    int64_t col0, const RowScreen& r, float* heap, int count,
    std::vector<std::pair<float, int32_t>>& candidates) {
  const LowerBoundConstants8 lower_constants = lower_bound_constants8(r);
  float limit = candidate_limit(r, heap);
  __m256 limits = _mm256_set1_ps(limit);
  int64_t j = 0;
  for (; j + 8 <= c; j += 8) {
    const __m256 lower = lower_bounds8(products, norms, step, l1, j, lower_constants);
    unsigned pass =
        static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(lower, limits, _CMP_LE_OQ)));
    if (!pass) continue;
    alignas(32) float lowers[8];
    _mm256_store_ps(lowers, lower);
    for (; pass; pass &= pass - 1) {
      const int64_t at = j + __builtin_ctz(pass);
      if (lowers[at - j] > limit) continue;
      candidates.emplace_back(lowers[at - j], static_cast<int32_t>(col0 + at));
      offer_upper(upper_bound(products[at], norms[at], step[at], l1[at], r), heap, count);
      limit = candidate_limit(r, heap);
    }
    limits = _mm256_set1_ps(limit);
  }
  tile_offers_portable(products + j, norms + j, step + j, l1 + j, c - j, col0 + j, r, heap, count,
                       candidates);
}
const bool kHaveAvx2Fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif

// One tile of a row; its products are overwritten.
void screen_tile(int32_t* products, const float* norms, const float* step, const float* l1,
                 int64_t c, int64_t col0, const RowScreen& r, float* heap, int count,
                 std::vector<std::pair<float, int32_t>>& candidates) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (kHaveAvx2Fma && col0 > 0) {
    tile_offers_avx2(products, norms, step, l1, c, col0, r, heap, count, candidates);
    return;
  }
  if (kHaveAvx2Fma && count <= kMostWords) {
    if (count == 1) {
      tile_bounds_avx2<1>(products, norms, step, l1, c, r, heap, count);
    } else {
      tile_bounds_avx2<2>(products, norms, step, l1, c, r, heap, count);
    }
    tile_candidates_avx2(products, c, col0, candidate_limit(r, heap), candidates);
    return;
  }
#endif
  if (col0 > 0) {
    tile_offers_portable(products, norms, step, l1, c, col0, r, heap, count, candidates);
    return;
  }
  tile_bounds_portable(products, norms, step, l1, c, r, heap, count);
  tile_candidates_portable(products, c, col0, candidate_limit(r, heap), candidates);
}

// The count smallest (value, word) pairs of a few dozen, in order, at the front: an insertion
// into a sorted prefix (std::partial_sort's heap cost more here). Words are distinct, so the
// order is total and the result is partial_sort's.
void smallest_first(std::pair<float, int32_t>* pairs, size_t n, size_t count) {
  for (size_t next = 0; next < n; ++next) {
    const std::pair<float, int32_t> value = pairs[next];
    size_t at = std::min(next, count);
    if (at == count) {
      if (!(value < pairs[count - 1])) continue;
      at = count - 1;
    }
    for (; at > 0 && value < pairs[at - 1]; --at) pairs[at] = pairs[at - 1];
    pairs[at] = value;
  }
}

// oneDNN generates its int8 kernels on the first product of a process (about 12 ms here, more
// than ten 300-descriptor quantizations): one tiny product when a codebook is screened moves that
// from the first query to the opening of the codebook.
void generate_int8_kernels(const int8_t* centroid_codes, int64_t k, int64_t d) {
  static std::once_flag generated;
  std::call_once(generated, [&] {
    const int64_t n = std::min<int64_t>(k, 16);
    std::vector<int8_t> row(static_cast<size_t>(d), 0);
    std::vector<int32_t> products(static_cast<size_t>(n));
    const int32_t zero_offset = 0;
    // A failure here would recur, with its message, on the first real product.
    (void)dnnl_gemm_s8s8s32('N', 'T', 'F', 1, n, d, 1.0f, row.data(), d, 0, centroid_codes, d, 0,
                            0.0f, products.data(), n, &zero_offset);
  });
}

#endif  // MDA_HAVE_DNNL

}  // namespace

CentroidScreen CentroidScreen::build(const float* centroids, int64_t k, int64_t d) {
  CentroidScreen s;
  s.k = k;
  s.d = d;
  s.codes.resize(static_cast<size_t>(k * d));
  s.step.resize(static_cast<size_t>(k));
  s.l1.resize(static_cast<size_t>(k));
  for (int64_t j = 0; j < k; ++j) {
    const float* c = centroids + j * d;
    s.step[static_cast<size_t>(j)] = round_row(c, d, &s.codes[static_cast<size_t>(j * d)]);
    float l1 = 0, squared = 0;
    for (int64_t t = 0; t < d; ++t) {
      l1 += std::fabs(c[t]);
      squared += c[t] * c[t];
    }
    s.l1[static_cast<size_t>(j)] = l1;
    s.max_step = std::max(s.max_step, s.step[static_cast<size_t>(j)]);
    s.max_l1 = std::max(s.max_l1, l1);
    s.max_squared_norm = std::max(s.max_squared_norm, squared);
  }
#ifdef MDA_HAVE_DNNL
  if (k > 0 && d > 0) generate_int8_kernels(s.codes.data(), k, d);
#endif
  return s;
}

bool screened_products_available() {
#ifdef MDA_HAVE_DNNL
  return true;
#else
  return false;
#endif
}

void screened_nearest_centroids(const float* x, int64_t m, const CentroidScreen& screen,
                                const float* centroids, const float* centroid_norms, int count,
                                int32_t* indices, float* distances, ScreenScratch& scratch) {
#ifndef MDA_HAVE_DNNL
  (void)x, (void)m, (void)screen, (void)centroids, (void)centroid_norms, (void)count, (void)indices,
      (void)distances, (void)scratch;
  fail("int8 products need oneDNN, which this build does not have");
#else
  const int64_t k = screen.k, d = screen.d;
  if (count < 1 || count > k) fail("cannot assign ", count, " words out of ", k);
  if (m == 0) return;
  const size_t rows = static_cast<size_t>(m);
  scratch.codes.resize(rows * static_cast<size_t>(d));
  scratch.norms.resize(rows);
  std::vector<RowScreen>& screens = scratch.rows;
  screens.resize(rows);
  for (int64_t i = 0; i < m; ++i) {
    const float* row = x + i * d;
    int8_t* codes = &scratch.codes[static_cast<size_t>(i * d)];
    const float step = round_row(row, d, codes);
    // Two loops: the integer sum vectorizes; the float sum keeps its order (it sets the
    // distances' last bits).
    int64_t code_l1 = 0;
    for (int64_t t = 0; t < d; ++t) code_l1 += std::abs(static_cast<int>(codes[t]));
    float squared = 0;
    for (int64_t t = 0; t < d; ++t) squared += row[t] * row[t];
    const float l1 = static_cast<float>(code_l1) * step;
    RowScreen& r = screens[static_cast<size_t>(i)];
    r.scale = 2 * step;
    // The distance's error is twice the product's: step_x |c|_1 + step_c |x^|_1.
    r.row_step = step * kBoundInflation;
    r.row_l1 = l1 * kBoundInflation;
    // The largest magnitudes the value, the bound and their difference are computed from.
    r.slack = kSlackFraction * (screen.max_squared_norm + 2.02f * 127 * screen.max_step * l1 +
                                screen.max_l1 * step + screen.max_step * l1);
    scratch.norms[static_cast<size_t>(i)] = squared;
  }
  const float inf = std::numeric_limits<float>::infinity();
  scratch.upper_heap.assign(rows * static_cast<size_t>(count), inf);
  if (scratch.candidates.size() < rows) scratch.candidates.resize(rows);
  for (size_t i = 0; i < rows; ++i) scratch.candidates[i].clear();
  const int64_t columns = std::min(kColumns, k);
  scratch.products.resize(rows * static_cast<size_t>(columns));
  const int32_t zero_offset = 0;
  for (int64_t col0 = 0; col0 < k; col0 += kColumns) {
    const int64_t c = std::min(kColumns, k - col0);
    if (dnnl_gemm_s8s8s32('N', 'T', 'F', m, c, d, 1.0f, scratch.codes.data(), d, 0,
                          &screen.codes[static_cast<size_t>(col0 * d)], d, 0, 0.0f,
                          scratch.products.data(), c, &zero_offset) != dnnl_success) {
      fail("oneDNN int8 product failed on a ", m, " x ", d, " by ", c, " x ", d, " product");
    }
    for (int64_t i = 0; i < m; ++i) {
      screen_tile(&scratch.products[static_cast<size_t>(i * c)], centroid_norms + col0,
                  &screen.step[static_cast<size_t>(col0)], &screen.l1[static_cast<size_t>(col0)], c,
                  col0, screens[static_cast<size_t>(i)],
                  &scratch.upper_heap[static_cast<size_t>(i) * static_cast<size_t>(count)], count,
                  scratch.candidates[static_cast<size_t>(i)]);
    }
  }
  // The candidates that can still be among the count nearest, recomputed exactly. Their centroids
  // are scattered over the codebook (32 MiB of floats at 65,536 words), so each row's are kept
  // and fetched from memory one row ahead of their products: waiting for them one by one took
  // about a tenth of a query's quantization (perf, 65,536 words).
  const auto keep_and_prefetch = [&](int64_t i) {
    const float top =
        candidate_limit(screens[static_cast<size_t>(i)],
                        &scratch.upper_heap[static_cast<size_t>(i) * static_cast<size_t>(count)]);
    std::vector<std::pair<float, int32_t>>& candidates = scratch.candidates[static_cast<size_t>(i)];
    size_t kept = 0;
    for (const auto& candidate : candidates) {
      if (candidate.first > top) continue;
      const int32_t j = candidate.second;
      candidates[kept++] = candidate;
      const float* c = centroids + j * d;
      for (int64_t t = 0; t < d; t += 64 / static_cast<int64_t>(sizeof(float)))
        __builtin_prefetch(c + t);
      __builtin_prefetch(c + d - 1);  // a row that does not start on a cache line ends on one more
      __builtin_prefetch(centroid_norms + j);
    }
    candidates.resize(kept);
  };
  if (m > 0) keep_and_prefetch(0);
  for (int64_t i = 0; i < m; ++i) {
    if (i + 1 < m) keep_and_prefetch(i + 1);
    std::vector<std::pair<float, int32_t>>& candidates = scratch.candidates[static_cast<size_t>(i)];
    const size_t kept = candidates.size();
    recompute_candidates(x + i * d, centroids, centroid_norms, d, candidates.data(), kept);
    if (kept < static_cast<size_t>(count))  // cannot happen: the count best upper bounds pass
      fail("int8 screen kept ", kept, " of ", count, " words for row ", i);
    smallest_first(candidates.data(), kept, static_cast<size_t>(count));
    for (int a = 0; a < count; ++a) {
      indices[i * count + a] = candidates[static_cast<size_t>(a)].second;
      distances[i * count + a] = std::max(
          0.0f, candidates[static_cast<size_t>(a)].first + scratch.norms[static_cast<size_t>(i)]);
    }
  }
#endif
}

}  // namespace mda
