// Dense float matrix products and nearest-centroid search: the arithmetic of k-means and
// quantization. Uses CBLAS (OpenBLAS) when the build found it, a blocked loop otherwise.
#pragma once

#include <cstdint>
#include <vector>

namespace mda {

bool blas_available();

// c (m x n) = a (m x k) * b (n x k)^T, all row-major.
void matmul_transposed(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c);

// Squared L2 norm of each of the n rows of x (n x d).
std::vector<float> row_norms(const float* x, int64_t n, int64_t d);

// For each of the n rows of x, the `count` nearest of the k centroids (k x d) by L2 distance,
// nearest first, ties to the lower index: indices n x count and squared distances n x count.
// `centroid_norms` are row_norms of the centroids. Works in blocks so memory stays bounded.
void nearest_centroids(const float* x, int64_t n, const float* centroids,
                       const std::vector<float>& centroid_norms, int64_t k, int64_t d, int count,
                       int32_t* indices, float* distances, int threads);

}  // namespace mda
