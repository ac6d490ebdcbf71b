// Dense float matrix products and nearest-centroid search: the arithmetic of k-means and
// quantization. The products use oneDNN's sgemm when the build found it (its kernels are chosen
// from the CPU's features at run time, so a CPU newer than the library still gets AVX2/AVX-512
// code), else CBLAS (OpenBLAS, whose DYNAMIC_ARCH falls back to generic kernels on CPUs it does not
// know), else a blocked loop.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mda {

bool blas_available();
// Which library and kernels run the products, for --verbose and the benchmarks.
std::string matrix_kernel_description();
// OpenBLAS's kernel ("" without OpenBLAS), and whether it is a generic one on a CPU with AVX2.
std::string openblas_core_name();
bool openblas_kernel_is_generic();
// Says which kernels run the products (a debug message, shown with --verbose), and warns once when
// they are OpenBLAS's generic ones on a CPU with AVX2.
void log_matrix_kernel();

// The threads of the matrix products: oneDNN's OpenMP threads (for calls from this thread, as
// OpenMP scopes the setting) and OpenBLAS's pool, so that runtime.threads governs them too.
void set_matrix_threads(int threads);

// Descriptors must be finite and of magnitude at most 1e16 (their squared distances must fit a
// float): otherwise an error naming `what`, the row and the column.
void check_descriptor_values(const float* x, int64_t n, int64_t d, const std::string& what);

// c (m x n) = a (m x k) * b (n x k)^T, all row-major.
void matmul_transposed(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c);

// Squared L2 norm of each of the n rows of x (n x d).
std::vector<float> row_norms(const float* x, int64_t n, int64_t d);

struct CentroidScreen;

// How nearest_centroids computes its products. kFloat: the float sgemm. kInt8Screened: int8
// products whose error bound screens the words, the survivors recomputed in float
// (screened_products.h): the same nearest words, about 3x faster where the CPU has VNNI. kAuto (the
// default): the screen when this build has oneDNN, the CPU has VNNI and the codebook at least
// kMinScreenedWords words; the environment variable MDA_PRODUCTS=float|int8 overrides kAuto.
enum class ProductMethod { kAuto, kFloat, kInt8Screened };
constexpr int64_t kMinScreenedWords = 1024;
void set_product_method(ProductMethod method);  // for tests and benchmarks
bool uses_screened_products(int64_t words);
// Whether nearest_centroids screens k x d centroids: the method chosen for k words, and room in
// the int32 products for d (screened_products.h's kMaxScreenedDimension).
bool screens_centroids(int64_t k, int64_t d);

// For each of the n rows of x, the `count` nearest of the k centroids (k x d) by L2 distance,
// nearest first, ties to the lower index: indices n x count and squared distances n x count.
// `centroid_norms` are row_norms of the centroids; `screen`, when given, their int8 form for the
// screened products (built on the fly when they run without one). Works in tiles of
// kNearestCentroidRows rows so memory stays bounded; a row's result depends only on its tile's
// products, so callers that split the rows at multiples of it (MPI ranks) get the same results as
// one call.
constexpr int64_t kNearestCentroidRows = 256;
void nearest_centroids(const float* x, int64_t n, const float* centroids,
                       const std::vector<float>& centroid_norms, int64_t k, int64_t d, int count,
                       int32_t* indices, float* distances, int threads,
                       const CentroidScreen* screen = nullptr);

}  // namespace mda
