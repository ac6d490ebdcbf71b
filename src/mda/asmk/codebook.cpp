#include "mda/asmk/codebook.h"

#include <chrono>

#include "mda/asmk/kmeans.h"
#include "mda/asmk/matrix.h"
#include "mda/io/npy.h"
#include "mda/util/checksum.h"
#include "mda/util/error.h"

namespace mda {

uint64_t codebook_fingerprint(const std::vector<float>& centroids) {
  return fnv1a64(reinterpret_cast<const uint8_t*>(centroids.data()),
                 centroids.size() * sizeof(float));
}

Codebook Codebook::train(const float* descriptors, int64_t n, int64_t dim,
                         const KMeansOptions& options) {
  KMeansResult result = train_kmeans(descriptors, n, dim, options);
  return from_centroids(std::move(result.centroids), result.k, result.dim);
}

Codebook Codebook::from_centroids(std::vector<float> centroids, int64_t k, int64_t dim) {
  if (static_cast<int64_t>(centroids.size()) != k * dim)
    fail("codebook of ", centroids.size(), " values is not ", k, " x ", dim);
  Codebook c;
  c.k = k;
  c.dim = dim;
  c.centroids = std::move(centroids);
  c.norms = row_norms(c.centroids.data(), k, dim);
  c.fingerprint = codebook_fingerprint(c.centroids);
  return c;
}

Codebook Codebook::load(const std::string& path) {
  const NdArray array = read_npy(path);
  if (array.shape.size() != 2 || array.dtype != DType::kFloat32) {
    fail(path, ": a codebook must be a float32 k x d array, found ", dtype_name(array.dtype), " ",
         array.shape_string());
  }
  if (array.shape[0] < 1 || array.shape[1] < 1) fail(path, ": empty codebook");
  return from_centroids(array.to_float(), array.shape[0], array.shape[1]);
}

void Codebook::save(const std::string& path) const {
  write_npy(path, NdArray::from_vector(centroids, {k, dim}));
}

AggregatedImage encode_features(const Codebook& codebook, const float* descriptors, int64_t n,
                                int64_t descriptor_dim, int ma, bool binary, int threads,
                                const std::string& what, EncodeTimings* timings) {
  const int64_t k = codebook.k, dim = codebook.dim;
  if (descriptor_dim != dim)
    fail(what, ": descriptors are ", descriptor_dim, "-d, the codebook's words are ", dim, "-d");
  if (n == 0) fail(what, ": no local features");
  check_descriptor_values(descriptors, n, dim, what);
  if (ma < 1 || ma > k) fail("multiple_assignment must be 1..", k, ", found ", ma);
  std::vector<int32_t> words(static_cast<size_t>(n * ma));
  std::vector<float> distances(static_cast<size_t>(n * ma));
  const auto start = std::chrono::steady_clock::now();
  nearest_centroids(descriptors, n, codebook.centroids.data(), codebook.norms, k, dim, ma,
                    words.data(), distances.data(), threads);
  const auto quantized = std::chrono::steady_clock::now();
  AggregatedImage image =
      aggregate(descriptors, n, dim, words.data(), ma, codebook.centroids.data(), k, binary);
  if (timings) {
    timings->quantize += std::chrono::duration<double>(quantized - start).count();
    timings->aggregate +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - quantized).count();
  }
  return image;
}

}  // namespace mda
