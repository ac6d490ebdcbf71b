// Local features of many images in HOW's .npy layout, one folder:
//   vecs.npy       float32 (or float16) n x d descriptors
//   imids.npy      integer n, the image index of each descriptor
//   strengths.npy  float32 n (optional)     locs.npy   int32 n x 2, (x, y) (optional)
//   scales.npy     float32 n (optional)     heads.npy  int32 n (optional)
//   images.txt     one image name per line, the image index order (optional)
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mda/io/ndarray.h"
#include "mda/local_features.h"
#include "mda/util/shared_floats.h"

namespace mda {

struct FeatureSet {
  int64_t dim = 0;
  int64_t images = 0;              // images.txt line count, or max image id + 1
  std::vector<std::string> names;  // empty without images.txt
  // Grouped by image: image i owns rows offsets[i]..offsets[i+1]. Read in place from a mapped
  // vecs.npy when that file is float32 with its images' rows already together (as mda and HOW write
  // it), else a copy.
  SharedFloats descriptors;
  std::vector<int64_t> offsets;  // images + 1
  LocalFeatures extras;          // strengths, heads, locations, scales when present (same order)

  int64_t count(int64_t image) const {
    return offsets[static_cast<size_t>(image + 1)] - offsets[static_cast<size_t>(image)];
  }
  const float* image_descriptors(int64_t image) const {
    return descriptors.data() + offsets[static_cast<size_t>(image)] * dim;
  }
  std::string image_name(int64_t image) const;  // name, or the index as text
};

// `path` is such a folder, or a vecs.npy file inside one. An image without descriptors is an error
// naming it unless `allow_empty_images`.
FeatureSet read_feature_folder(const std::string& path, bool allow_empty_images = false);

// The files of the folder that `path` names (a folder or its vecs.npy), existing or not.
std::vector<std::string> feature_folder_files(const std::string& path);

// The features of several images, in memory, as read_feature_folder would give them after
// write_feature_folder. An image without descriptors is an error naming it.
FeatureSet make_feature_set(std::vector<std::string> names,
                            const std::vector<LocalFeatures>& features);

// The features of several images as the HOW-layout arrays, images in order: vecs (n x d float32),
// imids (int64), strengths, scales (float32), heads (int32), locs (int32 n x 2). Images of another
// descriptor dimension than the first are an error naming the image's position.
std::vector<std::pair<std::string, NdArray>> how_layout_arrays(
    const std::vector<LocalFeatures>& features);

// Writes the folder (every file atomically), images in order, descriptors grouped by image.
void write_feature_folder(const std::string& folder, const std::vector<std::string>& names,
                          const std::vector<LocalFeatures>& features);

}  // namespace mda
