// The public API's Extractor (mda/extractor.h): the same features as the network library's own
// extraction, from a file, encoded bytes or a decoded buffer, crops that keep the full image's
// scale, and an Index searched with query images.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "local_features_checks.h"
#include "mda/codebook.h"
#include "mda/data/synthetic_dataset.h"
#include "mda/extractor.h"
#include "mda/image/codec.h"
#include "mda/index.h"
#include "mda/net/feature_extraction.h"
#include "mda/net/model_file.h"
#include "mda/util/fs.h"
#include "test_helpers.h"

namespace mda {
namespace {

void expect_same_features(const LocalFeatures& a, const LocalFeatures& b, const std::string& what) {
  EXPECT_EQ(a.dim, b.dim) << what;
  EXPECT_EQ(a.descriptors, b.descriptors) << what;
  EXPECT_EQ(a.strengths, b.strengths) << what;
  EXPECT_EQ(a.heads, b.heads) << what;
  EXPECT_EQ(a.xs, b.xs) << what;
  EXPECT_EQ(a.ys, b.ys) << what;
  EXPECT_EQ(a.scales, b.scales) << what;
}

class ExtractorApi : public ::testing::Test {
 protected:
  void SetUp() override {
    SyntheticDatasetOptions data;
    data.objects = 4;
    data.distractors = 2;
    data.width = 96;
    data.height = 72;
    dataset_ = write_synthetic_dataset(dir_.path("data"), "synthetic", data);
    MdaArchitecture a;
    a.backbone = "resnet18";
    a.skip_layer = 2;
    a.heads = 2;
    a.dim = 16;
    torch::manual_seed(3);
    MdaNet net(a);
    model_ = dir_.path("m.mdam");
    save_model(model_, *net);
    options_.image_size = 96;
    options_.scales = {1.0, 0.707};
    options_.features_num = 40;
    options_.threads = 1;
  }
  test::TempDir dir_;
  RevisitedDataset dataset_;
  std::string model_;
  ExtractionOptions options_;
};

TEST_F(ExtractorApi, GivesTheNetworkLibrarysFeaturesFromFilesBytesAndBuffers) {
  const Extractor extractor(model_, options_);
  EXPECT_EQ(extractor.descriptor_dim(), 16);
  EXPECT_EQ(extractor.heads(), 2);
  MdaNet net = load_model_for_inference(model_, torch::kCPU);
  const std::vector<ExtractionItem> items = revisited_items(dataset_, "db");
  const std::vector<LocalFeatures> want =
      extract_local_features(*net, items, extraction_settings(options_, torch::kCPU));
  std::vector<std::string> paths;
  for (const ExtractionItem& item : items) paths.push_back(item.path);
  int64_t calls = 0;
  const std::vector<LocalFeatures> many =
      extractor.extract_many(paths, [&](int64_t done, int64_t all) {
        EXPECT_EQ(done, ++calls);
        EXPECT_EQ(all, static_cast<int64_t>(paths.size()));
      });
  ASSERT_EQ(many.size(), want.size());
  EXPECT_EQ(calls, static_cast<int64_t>(paths.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    expect_same_features(many[i], want[i], "extract_many " + paths[i]);
    EXPECT_GT(many[i].count(), 0);
  }
  expect_same_features(extractor.extract(paths[1]), want[1], "extract");
  expect_same_features(extractor.extract_encoded(read_file_bytes(paths[1])), want[1], "bytes");
  const Image decoded = read_image(paths[1]);
  expect_same_features(extractor.extract_rgb(decoded.pixels.data(), decoded.width, decoded.height),
                       want[1], "rgb");
  EXPECT_EQ(extractor.global_descriptor(paths[1]).size(), 16u);
  test::expect_error([&] { extractor.extract(dir_.path("missing.jpg")); }, {"missing.jpg"});
  test::expect_error(
      [&] {
        extractor.extract_encoded({1, 2, 3}, std::nullopt, "junk bytes");
      },
      {"junk bytes"});
}

// evaluation.batch_size: consecutive images of one size go through the network together; a list
// that alternates sizes (database images, then query crops of other sizes, then database images)
// gives every image its own features, in its own place.
TEST_F(ExtractorApi, BatchedExtractionGivesEveryImageItsOwnFeatures) {
  MdaNet net = load_model_for_inference(model_, torch::kCPU);
  const std::vector<ExtractionItem> db = revisited_items(dataset_, "db");
  const std::vector<ExtractionItem> queries = revisited_items(dataset_, "queries");
  std::vector<ExtractionItem> items(db.begin(), db.begin() + 4);
  items.insert(items.end(), queries.begin(), queries.end());
  items.insert(items.end(), db.begin() + 4, db.end());
  ExtractionSettings one = extraction_settings(options_, torch::kCPU), three = one;
  three.batch_size = 3;
  const std::vector<LocalFeatures> a = extract_local_features(*net, items, one);
  int64_t calls = 0;
  three.on_image = [&](int64_t done, int64_t) { EXPECT_EQ(done, ++calls); };
  const std::vector<LocalFeatures> b = extract_local_features(*net, items, three);
  EXPECT_EQ(calls, static_cast<int64_t>(items.size()));
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_GT(a[i].count(), 0);
    expect_near_features(a[i], b[i], items[i].path);
  }
  // Different images really differ (a batch that gave every image the first one's features
  // would not pass the comparison above).
  EXPECT_NE(b[0].descriptors, b[1].descriptors);
  ExtractionOptions bad = options_;
  bad.batch_size = 0;
  test::expect_error([&] { Extractor(model_, bad); }, {"batch_size must be positive"});
}

TEST_F(ExtractorApi, CropsKeepTheScaleOfTheFullImageAsRevisitopQueries) {
  const Extractor extractor(model_, options_);
  MdaNet net = load_model_for_inference(model_, torch::kCPU);
  const std::vector<ExtractionItem> queries = revisited_items(dataset_, "queries");
  ASSERT_TRUE(queries[0].crop);
  const std::vector<LocalFeatures> want =
      extract_local_features(*net, {queries[0]}, extraction_settings(options_, torch::kCPU));
  const auto& b = queries[0].box;
  expect_same_features(extractor.extract(queries[0].path, BoundingBox{b[0], b[1], b[2], b[3]}),
                       want[0], "cropped query");
}

// The report's attention picture through the public API (what mda serve's page shows): the
// image at its extraction size, one heat map per head, and per head the number of kept features,
// which together are the features extract() keeps.
TEST_F(ExtractorApi, AttentionMapsCoverEveryHeadAndTheKeptFeatures) {
  const Extractor extractor(model_, options_);
  const Image image = read_image(dataset_.database_path(0));
  const AttentionPicture picture =
      extractor.attention_maps(image.pixels.data(), image.width, image.height);
  const LocalFeatures features = extractor.extract(dataset_.database_path(0));
  ASSERT_EQ(picture.heads.size(), 2u);
  EXPECT_EQ(picture.image.width, 96);  // longest side resized to image_size
  for (const RgbImage& head : picture.heads) {
    EXPECT_EQ(head.width, picture.image.width);
    EXPECT_EQ(head.pixels.size(), picture.image.pixels.size());
    EXPECT_NE(head.pixels, picture.image.pixels);  // the heat map is blended in
  }
  int64_t kept = 0;
  for (const int64_t n : picture.features_per_head) kept += n;
  EXPECT_EQ(kept, features.count());
  test::expect_error([&] { extractor.attention_maps(nullptr, 0, 0); }, {"empty image"});
}

TEST_F(ExtractorApi, AnIndexSearchesQueryImagesThroughTheExtractor) {
  const Extractor extractor(model_, options_);
  std::vector<std::string> paths;
  for (const ExtractionItem& item : revisited_items(dataset_, "db")) paths.push_back(item.path);
  const std::vector<LocalFeatures> images = extractor.extract_many(paths, [](int64_t, int64_t) {});
  std::vector<float> training;
  for (const LocalFeatures& f : images)
    training.insert(training.end(), f.descriptors.begin(), f.descriptors.end());
  KMeansOptions kmeans;
  kmeans.k = 32;
  Index index(
      Codebook::train(training.data(), static_cast<int64_t>(training.size()) / 16, 16, kmeans));
  index.add(images, paths);
  const auto hits = index.search(extractor, paths);
  ASSERT_EQ(hits.size(), paths.size());
  for (size_t q = 0; q < paths.size(); ++q) EXPECT_EQ(hits[q].at(0).name, paths[q]);
  EXPECT_EQ(index.search(extractor, paths[2], std::nullopt).at(0).name, paths[2]);
  KMeansOptions wide;
  wide.k = 4;
  std::vector<float> other(4 * 8, 0.5f);
  for (size_t i = 0; i < other.size(); ++i) other[i] += static_cast<float>(i);
  const Index foreign(Codebook::train(other.data(), 4, 8, wide));
  test::expect_error([&] { foreign.search(extractor, paths); }, {"16-d", "8-d"});
}

}  // namespace
}  // namespace mda
