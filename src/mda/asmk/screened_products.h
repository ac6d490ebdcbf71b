// Nearest centroids from int8 products, made exact: a descriptor x and a centroid c are rounded to
// int8 codes with one step per row (max |value| / 127), their product computed in int32 (oneDNN's
// VNNI kernels: about 4x the float sgemm's rate), and every word's distance bounded from both sides
// by the rounding's worst case:
//   |x.c - x^.c^| <= (step_x / 2) |c|_1 + (step_c / 2) |x^|_1,
// (x^ and c^ the rounded vectors). A word is kept as a candidate when its lower bound is not above
// the count-th smallest upper bound, so the true `count` nearest are always among the candidates
// (a dozen or two per row on real descriptors and a 65,536-word codebook); the candidates'
// distances are then recomputed in float and ranked as in the float path: the same words at a
// quarter of the multiply-adds (a descriptor whose nearest words lie within float rounding of each
// other may take either, as between any two float implementations).
#pragma once

#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace mda {

// A codebook's centroids rounded for the screen, with the per-centroid constants of the bound.
struct CentroidScreen {
  int64_t k = 0, d = 0;
  std::vector<int8_t> codes;  // k x d: round(c / step)
  std::vector<float> step;    // per centroid: max |c_j| / 127 (0 for an all-zero centroid)
  std::vector<float> l1;      // per centroid: sum of |c_j|
  float max_squared_norm = 0;
  float max_step = 0, max_l1 = 0;

  static CentroidScreen build(const float* centroids, int64_t k, int64_t d);
};

// The int32 products hold up to 127 * 127 * d: descriptors of more dimensions take the float path.
constexpr int64_t kMaxScreenedDimension = 130000;

// Whether this build has the int8 products (oneDNN); they pay off where the CPU has VNNI
// instructions (cpu_has_vnni in mda/util/cpu_features.h: about 4x the float rate; elsewhere about
// 2x at best).
bool screened_products_available();

// The per-row constants of the screen. A word's value (norm_j - 2 x^.c^) is
// norm_j - product_j * scale * step_j, its error at most step_j * row_l1 + l1_j * row_step; the
// bounds are computed from it without the slack (three multiply-adds each), and the slack covers
// the float rounding of computing them: a word is a candidate when its lower bound is at most the
// count-th smallest upper bound plus twice the slack.
struct RowScreen {
  float scale = 0;     // 2 * step_x
  float row_step = 0;  // step_x, inflated
  float row_l1 = 0;    // |x^|_1, inflated
  float slack = 0;
};

// One thread's buffers, kept between calls.
struct ScreenScratch {
  std::vector<int8_t> codes;      // the rows' int8 codes
  std::vector<RowScreen> rows;    // their constants of the bound
  std::vector<float> norms;       // their squared norms
  std::vector<int32_t> products;  // one tile of int32 products
  std::vector<float> upper_heap;  // per row, the count smallest upper bounds
  std::vector<std::vector<std::pair<float, int32_t>>> candidates;  // per row (lower bound, word)
};

// For each of the m rows of x (m x d, at most a few hundred), the `count` nearest centroids by L2
// distance, nearest first, ties to the lower index: indices and squared distances m x count.
// `centroids` (k x d) and `centroid_norms` (their squared norms) give the exact recomputation.
// The products run single-threaded on the calling thread.
void screened_nearest_centroids(const float* x, int64_t m, const CentroidScreen& screen,
                                const float* centroids, const float* centroid_norms, int count,
                                int32_t* indices, float* distances, ScreenScratch& scratch);

}  // namespace mda
