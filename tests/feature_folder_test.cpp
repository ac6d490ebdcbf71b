// Feature folders (HOW's .npy layout): descriptors grouped by image whatever the file's row order,
// read in place from the mapped vecs.npy when they can be, converted otherwise.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "mda/features/feature_folder.h"
#include "mda/io/npy.h"
#include "mda/util/fs.h"
#include "test_helpers.h"

namespace mda {
namespace {

// Descriptor row r holds r + 0.25 * column, so every row is recognisable after regrouping.
std::vector<float> numbered_rows(int64_t n, int64_t d) {
  std::vector<float> v(static_cast<size_t>(n * d));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t t = 0; t < d; ++t) v[static_cast<size_t>(r * d + t)] = r + 0.25f * t;
  return v;
}

void write_folder(const std::string& folder, const std::vector<int64_t>& imids, int64_t d) {
  make_dirs(folder);
  const int64_t n = static_cast<int64_t>(imids.size());
  write_npy(join_path(folder, "vecs.npy"), NdArray::from_vector(numbered_rows(n, d), {n, d}));
  write_npy(join_path(folder, "imids.npy"), NdArray::from_vector(imids, {n}));
  std::vector<float> strengths;
  for (int64_t r = 0; r < n; ++r) strengths.push_back(100.0f + r);
  write_npy(join_path(folder, "strengths.npy"), NdArray::from_vector(strengths, {n}));
}

TEST(FeatureFolder, RowsAreGroupedByImageKeepingTheirOrderAndExtrasFollow) {
  test::TempDir dir;
  const int64_t d = 4;
  // Rows of images 2, 0, 1 interleaved; image 0 owns file rows 1, 3 and 6, in that order.
  write_folder(dir.path("f"), {2, 0, 1, 0, 2, 1, 0}, d);
  const FeatureSet set = read_feature_folder(dir.path("f"));
  ASSERT_EQ(set.images, 3);
  EXPECT_EQ(set.offsets, (std::vector<int64_t>{0, 3, 5, 7}));
  const std::vector<int64_t> file_rows = {1, 3, 6, 2, 5, 0, 4};
  ASSERT_EQ(set.descriptors.size(), static_cast<size_t>(7 * d));
  for (size_t i = 0; i < file_rows.size(); ++i) {
    EXPECT_EQ(set.descriptors.data()[i * d], static_cast<float>(file_rows[i])) << i;
    EXPECT_EQ(set.descriptors.data()[i * d + 3], file_rows[i] + 0.75f) << i;
    EXPECT_EQ(set.extras.strengths[i], 100.0f + file_rows[i]) << i;
  }
}

TEST(FeatureFolder, AGroupedFloat32FileIsReadInPlaceAndOutlivesItsFile) {
  test::TempDir dir;
  const int64_t d = 8;
  write_folder(dir.path("f"), {0, 0, 1, 1, 1, 2}, d);
  FeatureSet copy;
  {
    const FeatureSet set = read_feature_folder(dir.path("f"));
    copy = set;  // copies share the descriptors
  }
  std::filesystem::remove_all(dir.path("f"));  // the mapping keeps the data
  const std::vector<float> expected = numbered_rows(6, d);
  ASSERT_EQ(copy.descriptors.size(), expected.size());
  EXPECT_EQ(0, std::memcmp(copy.descriptors.data(), expected.data(), expected.size() * 4));
  EXPECT_EQ(copy.offsets, (std::vector<int64_t>{0, 2, 5, 6}));
}

TEST(FeatureFolder, Float16DescriptorsAreConvertedAndBadFilesNamed) {
  test::TempDir dir;
  const std::string f = dir.path("f");
  write_folder(f, {0, 1, 1}, 2);
  NdArray half;
  half.dtype = DType::kFloat16;
  half.shape = {3, 2};
  const uint16_t bits[6] = {0x3C00, 0x4000, 0x3800, 0xC000, 0x0000, 0x3E00};  // 1 2 .5 -2 0 1.5
  half.bytes.resize(sizeof bits);
  std::memcpy(half.bytes.data(), bits, sizeof bits);
  write_npy(join_path(f, "vecs.npy"), half);
  const FeatureSet set = read_feature_folder(f);
  const std::vector<float> got(set.descriptors.begin(), set.descriptors.end());
  EXPECT_EQ(got, (std::vector<float>{1, 2, 0.5f, -2, 0, 1.5f}));

  write_npy(join_path(f, "vecs.npy"), NdArray::from_vector(std::vector<int32_t>{1, 2, 3}, {3}));
  test::expect_error([&] { read_feature_folder(f); }, {"vecs.npy", "2-D"});
  write_folder(f, {0, 1, 1}, 2);
  std::filesystem::resize_file(join_path(f, "vecs.npy"),
                               std::filesystem::file_size(join_path(f, "vecs.npy")) - 4);
  test::expect_error([&] { read_feature_folder(f); }, {"vecs.npy", "truncated"});
}

}  // namespace
}  // namespace mda
