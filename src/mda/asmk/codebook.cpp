#include "mda/asmk/codebook.h"

#include <algorithm>
#include <chrono>

#include "mda/asmk/kmeans.h"
#include "mda/asmk/matrix.h"
#include "mda/asmk/screened_products.h"
#include "mda/io/npy.h"
#include "mda/util/checksum.h"
#include "mda/util/error.h"
#include "mda/util/run_on_threads.h"

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
  if (screens_centroids(k, dim))
    c.screen =
        std::make_shared<const CentroidScreen>(CentroidScreen::build(c.centroids.data(), k, dim));
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
  std::vector<AggregatedImage> encoded = encode_images(
      codebook, {DescriptorRange{descriptors, n, descriptor_dim}}, ma, binary, threads,
      [&](size_t) { return what; }, nullptr, timings);
  return std::move(encoded.front());
}

std::vector<AggregatedImage> encode_images(const Codebook& codebook,
                                           const std::vector<DescriptorRange>& images, int ma,
                                           bool binary, int threads,
                                           const std::function<std::string(size_t)>& what,
                                           const ProgressCallback& progress,
                                           EncodeTimings* timings) {
  constexpr int64_t kBlockRows = 16384;
  const int64_t k = codebook.k, dim = codebook.dim;
  for (size_t i = 0; i < images.size(); ++i) {
    if (images[i].dim != dim) {
      fail(what(i), ": descriptors are ", images[i].dim, "-d, the codebook's words are ", dim,
           "-d");
    }
    if (images[i].count < 0) fail(what(i), ": ", images[i].count, " local features");
    check_descriptor_values(images[i].descriptors, images[i].count, dim, what(i));
  }
  if (ma < 1 || ma > k) fail("multiple_assignment must be 1..", k, ", found ", ma);
  std::vector<AggregatedImage> out(images.size());
  std::vector<float> copied, distances;
  std::vector<int32_t> words;
  std::vector<int64_t> first_row;
  for (size_t first = 0; first < images.size();) {
    // The block: whole images, at least one, up to kBlockRows rows.
    size_t end = first;
    int64_t rows = 0;
    bool contiguous = true;
    do {
      if (end > first &&
          images[end].descriptors != images[end - 1].descriptors + images[end - 1].count * dim)
        contiguous = false;
      rows += images[end].count;
      ++end;
    } while (end < images.size() && rows + images[end].count <= kBlockRows);
    const float* x = images[first].descriptors;
    first_row.assign(1, 0);
    for (size_t i = first; i < end; ++i) first_row.push_back(first_row.back() + images[i].count);
    if (!contiguous) {
      copied.resize(static_cast<size_t>(rows * dim));
      for (size_t i = first; i < end; ++i) {
        std::copy(images[i].descriptors, images[i].descriptors + images[i].count * dim,
                  copied.begin() + first_row[i - first] * dim);
      }
      x = copied.data();
    }
    words.resize(static_cast<size_t>(rows * ma));
    distances.resize(static_cast<size_t>(rows * ma));
    const auto start = std::chrono::steady_clock::now();
    nearest_centroids(x, rows, codebook.centroids.data(), codebook.norms, k, dim, ma, words.data(),
                      distances.data(), threads, codebook.screen.get());
    const auto quantized = std::chrono::steady_clock::now();
    const size_t count = end - first;
    const int workers =
        static_cast<int>(std::min<size_t>(static_cast<size_t>(std::max(1, threads)), count));
    run_on_threads(workers, [&](int w) {
      const size_t from = first + count * static_cast<size_t>(w) / static_cast<size_t>(workers);
      const size_t to = first + count * static_cast<size_t>(w + 1) / static_cast<size_t>(workers);
      for (size_t i = from; i < to; ++i) {
        const int64_t row = first_row[i - first];
        if (images[i].count == 0) {  // an image left out (unreadable): no words, never scored
          out[i].dim = dim;
          out[i].binary = binary;
          continue;
        }
        out[i] =
            aggregate(x + row * dim, images[i].count, dim, &words[static_cast<size_t>(row * ma)],
                      ma, codebook.centroids.data(), k, binary);
      }
    });
    if (timings) {
      timings->quantize += std::chrono::duration<double>(quantized - start).count();
      timings->aggregate +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - quantized).count();
    }
    if (progress) progress(static_cast<int64_t>(end), static_cast<int64_t>(images.size()));
    first = end;
  }
  return out;
}

}  // namespace mda
