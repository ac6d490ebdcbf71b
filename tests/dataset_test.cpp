#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <tuple>

#include "mda/data/image_list.h"
#include "mda/data/revisited_dataset.h"
#include "mda/data/synthetic_dataset.h"
#include "mda/image/codec.h"
#include "mda/io/json.h"
#include "mda/io/pickle.h"
#include "mda/util/fs.h"
#include "test_helpers.h"

namespace mda {
namespace {

void write_gnd(const test::TempDir& dir, const std::string& json) {
  make_dirs(dir.path("ds"));
  write_file_atomic(dir.path("ds/gnd_ds.json"), json);
}

TEST(RevisitedDataset, ReadsJsonAndResolvesImagePaths) {
  test::TempDir dir;
  write_gnd(dir, R"({"imlist": ["a", "b", "c"], "qimlist": ["q"],
                     "gnd": [{"bbx": [1, 2, 30, 40], "easy": [0], "hard": [2], "junk": [1]}]})");
  const RevisitedDataset d = load_revisited_dataset(dir.path(), "ds");
  EXPECT_EQ(d.database.size(), 3u);
  EXPECT_EQ(d.gnd[0].hard, (std::vector<int64_t>{2}));
  EXPECT_TRUE(d.gnd[0].has_bbx);
  EXPECT_EQ(d.gnd[0].bbx[3], 40.0);
  EXPECT_EQ(d.database_path(1), dir.path("ds/jpg/b.jpg"));
  test::expect_error([&] { d.check_images_exist(); }, {"4 image file(s) missing", "ds/jpg/a.jpg"});
}

TEST(RevisitedDataset, MalformedGroundTruthIsAClearError) {
  test::TempDir dir;
  const auto load = [&] { load_revisited_dataset(dir.path(), "ds"); };
  write_gnd(dir, R"({"imlist": ["a"], "qimlist": ["q"], "gnd": [{"easy": [3], "hard": []}]})");
  test::expect_error(load, {"gnd_ds.json", "gnd[0]['easy']", "index 3", "1 images"});
  write_gnd(dir, R"({"imlist": ["a"], "qimlist": ["q", "r"], "gnd": [{"easy": [0], "hard": []}]})");
  test::expect_error(load, {"gnd_ds.json", "1 entries for 2 queries"});
  write_gnd(dir, R"({"qimlist": [], "gnd": []})");
  test::expect_error(load, {"gnd_ds.json", "no 'imlist'"});
  write_gnd(
      dir,
      R"({"imlist": ["a"], "qimlist": ["q"], "gnd": [{"bbx": [0, 0, 1], "easy": [0], "hard": []}]})");
  test::expect_error(load, {"bbx", "3 values"});
  write_gnd(dir, R"({"imlist": ["a", 5], "qimlist": [], "gnd": []})");
  test::expect_error(load, {"imlist[1]"});
  write_gnd(dir, R"({"imlist": ["a"], "qimlist": ["q"], "gnd": [{"easy": [-1], "hard": []}]})");
  test::expect_error(load, {"index -1"});
  test::expect_error([&] { load_revisited_dataset(dir.path(), "other"); },
                     {"gnd_other.pkl", "gnd_other.json"});
}

TEST(RevisitedDataset, SharedDataPickleMatchesJson) {
  MDA_SKIP_WITHOUT_SHARED_DATA();
  for (const auto& [name, n_db, n_q] :
       {std::tuple<std::string, size_t, size_t>{"ukbench1k", 1000, 1000}, {"grocery", 864, 100}}) {
    const RevisitedDataset d = load_revisited_dataset(test::shared_data(), name);
    EXPECT_EQ(d.gnd_path, test::shared_data() + "/" + name + "/gnd_" + name + ".pkl");
    EXPECT_EQ(d.database.size(), n_db);
    EXPECT_EQ(d.queries.size(), n_q);
    d.check_images_exist();
    const std::string folder = test::shared_data() + "/" + name;
    EXPECT_EQ(read_pickle(folder + "/gnd_" + name + ".pkl"),
              read_json(folder + "/gnd_" + name + ".json"))
        << name;
  }
  const RevisitedDataset uk = load_revisited_dataset(test::shared_data(), "ukbench1k");
  EXPECT_EQ(uk.gnd[5].easy, (std::vector<int64_t>{4, 6, 7}));
  EXPECT_EQ(uk.gnd[5].junk, (std::vector<int64_t>{5}));
}

TEST(TrainingManifest, ReadsSharedGroceryManifest) {
  MDA_SKIP_WITHOUT_SHARED_DATA();
  const TrainingManifest m = read_training_manifest(test::shared_data() + "/grocery/train.tsv");
  EXPECT_EQ(m.names.size(), 864u);
  EXPECT_EQ(m.label_names.size(), 31u);
  EXPECT_TRUE(file_exists(m.image_path(0))) << m.image_path(0);
}

TEST(TrainingManifest, BadRowsNameTheLine) {
  test::TempDir dir;
  const std::string path = dir.path("train.tsv");
  write_file_atomic(path, "name\tlabel\na\tx\nb\ty\nc\tx\n");
  const TrainingManifest m = read_training_manifest(path);
  EXPECT_EQ(m.labels, (std::vector<int>{0, 1, 0}));
  EXPECT_EQ(m.image_path(1), dir.path("jpg/b.jpg"));
  write_file_atomic(path, "image,label\na,x\n");
  test::expect_error([&] { read_training_manifest(path); }, {"train.tsv:1", "header"});
  write_file_atomic(path, "name\tlabel\na\tx\nb x\n");
  test::expect_error([&] { read_training_manifest(path); }, {"train.tsv:3", "b x"});
  write_file_atomic(path, "name\tlabel\na\tx\na\ty\n");
  test::expect_error([&] { read_training_manifest(path); }, {"train.tsv:3", "duplicate", "'a'"});
  write_file_atomic(path, "name\tlabel\n");
  test::expect_error([&] { read_training_manifest(path); }, {"no rows"});
  test::expect_error([&] { read_training_manifest(dir.path("none.tsv")); }, {"none.tsv"});
}

TEST(ImageList, ResolvesRelativePathsAndRejectsEmptyLists) {
  test::TempDir dir;
  write_file_atomic(dir.path("list.txt"), "a.jpg\n\n/abs/b.jpg\r\n");
  EXPECT_EQ(read_image_list(dir.path("list.txt")),
            (std::vector<std::string>{dir.path("a.jpg"), "/abs/b.jpg"}));
  EXPECT_EQ(read_image_list(dir.path("list.txt"), "/root")[0], "/root/a.jpg");
  write_file_atomic(dir.path("empty.txt"), "\n\n");
  test::expect_error([&] { read_image_list(dir.path("empty.txt")); }, {"empty.txt", "empty"});
}

TEST(SyntheticDataset, GroundTruthFollowsTheConstruction) {
  if (!image_codecs_available()) GTEST_SKIP() << "SKIPPED: built without image support";
  test::TempDir dir;
  SyntheticDatasetOptions options;
  options.objects = 3;
  options.distractors = 2;
  options.seed = 7;
  write_synthetic_dataset(dir.path(), "syn", options);
  const RevisitedDataset d = load_revisited_dataset(dir.path(), "syn");
  d.check_images_exist();
  ASSERT_EQ(d.queries.size(), 3u);
  EXPECT_EQ(d.database.size(), 3u * 4 + 2);
  std::set<int64_t> used;
  for (const QueryGroundTruth& t : d.gnd) {
    EXPECT_EQ(t.easy.size(), 2u);
    EXPECT_EQ(t.hard.size(), 1u);
    EXPECT_EQ(t.junk.size(), 1u);
    EXPECT_TRUE(t.has_bbx);
    for (const auto* list : {&t.easy, &t.hard, &t.junk}) {
      for (int64_t i : *list) EXPECT_TRUE(used.insert(i).second) << "index " << i << " reused";
    }
  }
  // Same seed, same bytes.
  test::TempDir again;
  write_synthetic_dataset(again.path(), "syn", options);
  EXPECT_EQ(read_file_bytes(d.database_path(4)),
            read_file_bytes(again.path("syn/jpg/" + d.database[4] + ".jpg")));
}

// The occlusion-heavy variant hides part of the object in the query (whose rendering is otherwise
// the same as without occlusion) and keeps the ground truth's shape.
TEST(SyntheticDataset, OcclusionHidesPartOfTheObject) {
  if (!image_codecs_available()) GTEST_SKIP() << "SKIPPED: built without image support";
  test::TempDir dir;
  SyntheticDatasetOptions options;
  options.objects = 2;
  options.distractors = 1;
  options.seed = 3;
  const RevisitedDataset plain = write_synthetic_dataset(dir.path(), "plain", options);
  options.occlusion = 0.4;
  const RevisitedDataset occluded = write_synthetic_dataset(dir.path(), "occluded", options);
  ASSERT_EQ(occluded.database.size(), plain.database.size());
  ASSERT_EQ(occluded.gnd[0].easy, plain.gnd[0].easy);
  const Image a = read_image(plain.query_path(0)), b = read_image(occluded.query_path(0));
  ASSERT_EQ(a.width, b.width);
  int64_t changed = 0;
  for (int y = 0; y < a.height; ++y) {
    for (int x = 0; x < a.width; ++x) {
      int diff = 0;
      for (int c = 0; c < 3; ++c) diff = std::max(diff, std::abs(a.at(x, y, c) - b.at(x, y, c)));
      changed += diff > 40;
    }
  }
  const auto& box = plain.gnd[0].bbx;
  const double box_area = (box[2] - box[0]) * (box[3] - box[1]);
  // Two patches of 20% of the box each (overlapping at most fully); colours that happen to agree
  // with the object's leave some pixels unchanged.
  EXPECT_GT(changed, 0.08 * box_area);
  EXPECT_LT(changed, 0.45 * box_area);
  options.occlusion = 1.0;
  test::expect_error([&] { write_synthetic_dataset(dir.path(), "bad", options); }, {"occlusion"});
}

}  // namespace
}  // namespace mda
