// The public API in one program (docs/api.md): local features of images, a codebook, an index
// saved and opened again, and a search that must find every image itself first.
//
//   retrieval_example MODEL IMAGE...   features extracted by the model from the images
//   retrieval_example                  procedural descriptors instead (no model needed)
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "mda/mda.h"

namespace {

// Three noisy views of each of `objects` objects, every object made of 8 random parts.
std::vector<mda::LocalFeatures> procedural_images(int objects, int dim) {
  std::vector<mda::LocalFeatures> images;
  unsigned state = 12345;
  const auto next = [&state] {
    state = state * 1103515245u + 12345u;
    return static_cast<float>((state >> 8) & 0xffff) / 65535.0f - 0.5f;
  };
  std::vector<float> parts(static_cast<size_t>(objects * 8 * dim));
  for (float& v : parts) v = next();
  for (int view = 0; view < 3; ++view) {
    for (int o = 0; o < objects; ++o) {
      mda::LocalFeatures f;
      f.dim = dim;
      for (int p = 0; p < 8; ++p) {
        for (int k = 0; k < dim; ++k)
          f.descriptors.push_back(parts[static_cast<size_t>((o * 8 + p) * dim + k)] +
                                  0.05f * next());
        f.strengths.push_back(1);
      }
      images.push_back(std::move(f));
    }
  }
  return images;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::vector<mda::LocalFeatures> images;
    std::vector<std::string> names;
    if (argc >= 3) {
      mda::ExtractionOptions extraction;
      extraction.image_size = 256;
      extraction.scales = {1.0, 0.707};
      extraction.features_num = 200;
      const mda::Extractor extractor(argv[1], extraction);
      names.assign(argv + 2, argv + argc);
      images = extractor.extract_many(names);
    } else {
      images = procedural_images(10, 32);
      for (size_t i = 0; i < images.size(); ++i) names.push_back("image" + std::to_string(i));
    }

    std::vector<float> training;
    for (const mda::LocalFeatures& f : images)
      training.insert(training.end(), f.descriptors.begin(), f.descriptors.end());
    const int64_t dim = images.at(0).dim;
    mda::KMeansOptions kmeans;
    kmeans.k = std::min<int64_t>(64, static_cast<int64_t>(training.size()) / dim);
    const mda::Codebook codebook = mda::Codebook::train(
        training.data(), static_cast<int64_t>(training.size()) / dim, dim, kmeans);

    mda::Index index(codebook);
    index.add(images, names);
    index.save("retrieval_example.ivf");
    const mda::Index opened = mda::Index::open("retrieval_example.ivf");
    std::remove("retrieval_example.ivf");

    mda::SearchOptions search;
    search.topk = 3;
    int found_itself = 0;
    const auto hits = opened.search(images, search);
    for (size_t q = 0; q < hits.size(); ++q) {
      std::printf("%s:", names[q].c_str());
      for (const mda::SearchHit& hit : hits[q])
        std::printf("  %s %.3f", hit.name.c_str(), hit.score);
      std::printf("\n");
      found_itself += hits[q].at(0).name == names[q];
    }
    const mda::IndexStatistics stats = opened.statistics();
    std::printf("%lld images, %lld entries; %d of %zu queries found themselves first\n",
                static_cast<long long>(stats.images), static_cast<long long>(stats.entries),
                found_itself, hits.size());
    return found_itself == static_cast<int>(hits.size()) ? 0 : 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "retrieval_example: %s\n", error.what());
    return 1;
  }
}
