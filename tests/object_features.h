// Local features of procedural "objects" for the ASMK tests: every object is made of six parts
// (fixed random vectors in [-1, 1]^dim, drawn from the object's own seed), and each image of an
// object holds noisy copies of its parts, so retrieval must rank the object's other images first.
#pragma once

#include <map>
#include <vector>

#include "mda/codebook.h"
#include "mda/local_features.h"
#include "mda/util/random.h"

namespace mda::test {

// One image per entry of `object_of` (the object it shows); `seed` draws the noise.
inline std::vector<LocalFeatures> object_images(const std::vector<int>& object_of, int dim,
                                                uint64_t seed) {
  std::map<int, std::vector<float>> parts;
  SplitMix64 rng(seed);
  std::vector<LocalFeatures> out;
  for (int o : object_of) {
    if (!parts.count(o)) {
      SplitMix64 object_rng(1000 + static_cast<uint64_t>(o));
      std::vector<float>& p = parts[o];
      for (int k = 0; k < 6 * dim; ++k) p.push_back(static_cast<float>(object_rng.uniform(-1, 1)));
    }
    LocalFeatures f;
    f.dim = dim;
    for (int part = 0; part < 6; ++part) {
      for (int k = 0; k < dim; ++k)
        f.descriptors.push_back(parts[o][static_cast<size_t>(part * dim + k)] +
                                static_cast<float>(rng.uniform(-0.05, 0.05)));
      f.strengths.push_back(1);
      f.heads.push_back(0);
      f.xs.push_back(part);
      f.ys.push_back(0);
      f.scales.push_back(1);
    }
    out.push_back(std::move(f));
  }
  return out;
}

// A k-word codebook trained on every descriptor of `images` (default k-means options otherwise).
inline Codebook codebook_of(const std::vector<LocalFeatures>& images, int64_t k) {
  std::vector<float> training;
  for (const LocalFeatures& f : images)
    training.insert(training.end(), f.descriptors.begin(), f.descriptors.end());
  KMeansOptions kmeans;
  kmeans.k = k;
  const int64_t dim = images.at(0).dim;
  return Codebook::train(training.data(), static_cast<int64_t>(training.size()) / dim, dim, kmeans);
}

}  // namespace mda::test
