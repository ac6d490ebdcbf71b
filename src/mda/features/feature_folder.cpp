#include "mda/features/feature_folder.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <set>

#include "mda/asmk/matrix.h"
#include "mda/io/npy.h"
#include "mda/util/error.h"
#include "mda/util/fs.h"
#include "mda/util/strings.h"

namespace mda {

std::string FeatureSet::image_name(int64_t image) const {
  return names.empty() ? std::to_string(image) : names[static_cast<size_t>(image)];
}

std::vector<std::string> feature_folder_files(const std::string& path) {
  const std::string folder = ends_with(path, ".npy") ? parent_dir(path) : path;
  std::vector<std::string> files;
  for (const char* name : {"vecs.npy", "imids.npy", "images.txt", "strengths.npy", "locs.npy",
                           "scales.npy", "heads.npy"})
    files.push_back(join_path(folder, name));
  if (ends_with(path, ".npy")) files.push_back(path);
  return files;
}

FeatureSet read_feature_folder(const std::string& path, bool allow_empty_images) {
  const std::string folder = ends_with(path, ".npy") ? parent_dir(path) : path;
  const std::string vecs_path = ends_with(path, ".npy") ? path : join_path(folder, "vecs.npy");
  const std::string imids_path = join_path(folder, "imids.npy");
  if (!file_exists(vecs_path)) fail("feature folder '", folder, "' has no vecs.npy");
  if (!file_exists(imids_path)) fail("feature folder '", folder, "' has no imids.npy");
  const MappedNpy vecs = map_npy(vecs_path);
  if (vecs.header.shape.size() != 2) {
    fail(vecs_path, ": descriptors must be 2-D (n x d), found shape ", vecs.header.shape_string());
  }
  if (vecs.header.dtype != DType::kFloat32 && vecs.header.dtype != DType::kFloat16) {
    fail(vecs_path, ": descriptors must be float32 or float16, found ",
         dtype_name(vecs.header.dtype));
  }
  const NdArray imids_array = read_npy(imids_path);
  const std::vector<int64_t> imids = imids_array.to_int64();
  const int64_t n = vecs.header.shape[0];
  if (static_cast<int64_t>(imids.size()) != n) {
    fail(imids_path, ": ", imids.size(), " image ids for ", n, " descriptors in ", vecs_path);
  }
  FeatureSet set;
  set.dim = vecs.header.shape[1];
  const std::string names_path = join_path(folder, "images.txt");
  if (file_exists(names_path)) {
    for (const std::string& line : split(read_file_text(names_path), '\n')) {
      if (!trim(line).empty()) set.names.emplace_back(trim(line));
    }
    set.images = static_cast<int64_t>(set.names.size());
  } else {
    set.images = imids.empty() ? 0 : *std::max_element(imids.begin(), imids.end()) + 1;
  }
  for (int64_t i = 0; i < n; ++i) {
    if (imids[static_cast<size_t>(i)] < 0 || imids[static_cast<size_t>(i)] >= set.images) {
      fail(imids_path, ": descriptor ", i, " has image id ", imids[static_cast<size_t>(i)],
           ", outside 0..", set.images - 1);
    }
  }
  set.offsets.assign(static_cast<size_t>(set.images + 1), 0);
  for (int64_t i = 0; i < n; ++i)
    ++set.offsets[static_cast<size_t>(imids[static_cast<size_t>(i)] + 1)];
  for (int64_t i = 0; i < set.images; ++i)
    set.offsets[static_cast<size_t>(i + 1)] += set.offsets[static_cast<size_t>(i)];
  // Group descriptors by image, keeping their order inside each image; `order[i]` is the file row
  // of grouped row i (none when the file is grouped already, the usual case).
  const bool grouped = std::is_sorted(imids.begin(), imids.end());
  std::vector<int64_t> order;
  if (!grouped) {
    order.resize(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return imids[static_cast<size_t>(a)] < imids[static_cast<size_t>(b)];
    });
  }
  const auto file_row = [&](int64_t i) { return grouped ? i : order[static_cast<size_t>(i)]; };
  const size_t values = static_cast<size_t>(n * set.dim);
  if (grouped && vecs.header.dtype == DType::kFloat32 &&
      reinterpret_cast<uintptr_t>(vecs.data()) % alignof(float) == 0) {
    set.descriptors = SharedFloats(vecs.file, reinterpret_cast<const float*>(vecs.data()), values);
  } else {
    NdArray array;
    array.dtype = vecs.header.dtype;
    array.shape = vecs.header.shape;
    array.bytes.assign(vecs.data(), vecs.data() + values * dtype_size(vecs.header.dtype));
    const std::vector<float> converted = array.to_float();
    std::vector<float> descriptors(values);
    for (int64_t i = 0; i < n; ++i) {
      std::copy_n(converted.begin() + file_row(i) * set.dim, set.dim,
                  descriptors.begin() + i * set.dim);
    }
    set.descriptors = SharedFloats(std::move(descriptors));
  }
  check_descriptor_values(set.descriptors.data(), n, set.dim, vecs_path);
  if (!allow_empty_images) {
    // Only the images the extraction left out (skipped.txt) may have no features; any other gap
    // is a damaged or mismatched folder.
    std::set<std::string> skipped;
    const std::string skipped_path = join_path(folder, "skipped.txt");
    if (file_exists(skipped_path)) {
      for (const std::string& line : split(read_file_text(skipped_path), '\n'))
        if (!line.empty()) skipped.insert(line);
    }
    for (int64_t i = 0; i < set.images; ++i) {
      if (set.count(i) == 0 && !skipped.count(set.image_name(i)))
        fail(folder, ": image ", i, " ('", set.image_name(i), "') has no local features");
    }
  }
  const auto optional = [&](const char* name, auto apply) {
    const std::string file = join_path(folder, name);
    if (!file_exists(file)) return;
    const NdArray array = read_npy(file);
    if (array.shape.empty() || array.shape[0] != n)
      fail(file, ": has ", array.shape.empty() ? 0 : array.shape[0], " rows for ", n,
           " descriptors");
    apply(array);
  };
  set.extras.dim = set.dim;
  optional("strengths.npy", [&](const NdArray& a) {
    const std::vector<float> v = a.to_float();
    for (int64_t i = 0; i < n; ++i)
      set.extras.strengths.push_back(v[static_cast<size_t>(file_row(i))]);
  });
  optional("scales.npy", [&](const NdArray& a) {
    const std::vector<float> v = a.to_float();
    for (int64_t i = 0; i < n; ++i)
      set.extras.scales.push_back(v[static_cast<size_t>(file_row(i))]);
  });
  optional("heads.npy", [&](const NdArray& a) {
    const std::vector<int64_t> v = a.to_int64();
    for (int64_t i = 0; i < n; ++i)
      set.extras.heads.push_back(static_cast<int32_t>(v[static_cast<size_t>(file_row(i))]));
  });
  optional("locs.npy", [&](const NdArray& a) {
    if (a.shape.size() != 2 || a.shape[1] != 2)
      fail(join_path(folder, "locs.npy"), ": must be n x 2");
    const std::vector<int64_t> v = a.to_int64();
    for (int64_t i = 0; i < n; ++i) {
      set.extras.xs.push_back(static_cast<int32_t>(v[static_cast<size_t>(2 * file_row(i))]));
      set.extras.ys.push_back(static_cast<int32_t>(v[static_cast<size_t>(2 * file_row(i) + 1)]));
    }
  });
  return set;
}

FeatureSet make_feature_set(std::vector<std::string> names,
                            const std::vector<LocalFeatures>& features) {
  if (names.size() != features.size()) {
    fail("internal: ", names.size(), " names for ", features.size(), " feature sets");
  }
  FeatureSet set;
  set.names = std::move(names);
  set.images = static_cast<int64_t>(features.size());
  set.dim = features.empty() ? 0 : features[0].dim;
  set.extras.dim = set.dim;
  set.offsets.push_back(0);
  std::vector<float> descriptors;
  for (size_t i = 0; i < features.size(); ++i) {
    const LocalFeatures& f = features[i];
    if (f.count() == 0) fail("image ", i, " ('", set.names[i], "') has no local features");
    if (f.dim != set.dim) {
      fail("image ", i, " ('", set.names[i], "') has ", f.dim, "-d descriptors, the others ",
           set.dim, "-d");
    }
    descriptors.insert(descriptors.end(), f.descriptors.begin(), f.descriptors.end());
    LocalFeatures& e = set.extras;
    e.strengths.insert(e.strengths.end(), f.strengths.begin(), f.strengths.end());
    e.scales.insert(e.scales.end(), f.scales.begin(), f.scales.end());
    e.heads.insert(e.heads.end(), f.heads.begin(), f.heads.end());
    e.xs.insert(e.xs.end(), f.xs.begin(), f.xs.end());
    e.ys.insert(e.ys.end(), f.ys.begin(), f.ys.end());
    set.offsets.push_back(set.offsets.back() + f.count());
  }
  set.descriptors = SharedFloats(std::move(descriptors));
  return set;
}

std::vector<std::pair<std::string, NdArray>> how_layout_arrays(
    const std::vector<LocalFeatures>& features) {
  const int64_t dim = features.empty() ? 0 : features[0].dim;
  std::vector<float> vecs, strengths, scales;
  std::vector<int64_t> imids;
  std::vector<int32_t> heads, locs;
  for (size_t i = 0; i < features.size(); ++i) {
    const LocalFeatures& f = features[i];
    if (f.dim != dim) fail("image ", i, " has ", f.dim, "-d descriptors, the others ", dim, "-d");
    vecs.insert(vecs.end(), f.descriptors.begin(), f.descriptors.end());
    strengths.insert(strengths.end(), f.strengths.begin(), f.strengths.end());
    scales.insert(scales.end(), f.scales.begin(), f.scales.end());
    heads.insert(heads.end(), f.heads.begin(), f.heads.end());
    for (int64_t k = 0; k < f.count(); ++k) {
      imids.push_back(static_cast<int64_t>(i));
      locs.push_back(f.xs[static_cast<size_t>(k)]);
      locs.push_back(f.ys[static_cast<size_t>(k)]);
    }
  }
  const int64_t n = static_cast<int64_t>(imids.size());
  return {{"vecs", NdArray::from_vector(vecs, {n, dim})},
          {"imids", NdArray::from_vector(imids, {n})},
          {"strengths", NdArray::from_vector(strengths, {n})},
          {"scales", NdArray::from_vector(scales, {n})},
          {"heads", NdArray::from_vector(heads, {n})},
          {"locs", NdArray::from_vector(locs, {n, 2})}};
}

void write_feature_folder(const std::string& folder, const std::vector<std::string>& names,
                          const std::vector<LocalFeatures>& features) {
  if (names.size() != features.size()) {
    fail("internal: ", names.size(), " names for ", features.size(), " feature sets");
  }
  make_dirs(folder);
  for (const auto& [name, array] : how_layout_arrays(features))
    write_npy(join_path(folder, name + ".npy"), array);
  std::string text, skipped;
  for (size_t i = 0; i < names.size(); ++i) {
    text += names[i] + "\n";
    if (features[i].count() == 0) skipped += names[i] + "\n";
  }
  write_file_atomic(join_path(folder, "images.txt"), text);
  // The images left out (runtime.on_bad_image: skip): readers accept these without features.
  const std::string skipped_path = join_path(folder, "skipped.txt");
  if (!skipped.empty()) {
    write_file_atomic(skipped_path, skipped);
  } else if (file_exists(skipped_path)) {
    std::remove(skipped_path.c_str());
  }
}

}  // namespace mda
