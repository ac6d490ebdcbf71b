// LiveIndex (mda/live_index.h): changes survive a reopen exactly, a record torn by a crash is
// dropped while damage in the middle of the log is an error, compaction switches generations
// atomically and never writes the base index, and refused changes leave the log as it was.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "mda/codebook.h"
#include "mda/index.h"
#include "mda/live_index.h"
#include "mda/util/fs.h"
#include "object_features.h"
#include "test_helpers.h"

namespace mda {
namespace {

constexpr int kDim = 16;

class LiveIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    images_ = test::object_images({0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5}, kDim, 1);
    queries_ = test::object_images({2, 5, 0}, kDim, 2);
    codebook_ = test::codebook_of(images_, 12);
    Index base(codebook_);
    base.add({images_[0], images_[1], images_[2], images_[3]}, {"db0", "db1", "db2", "db3"});
    base_ = dir_.path("base.mdai");
    base.save(base_);
    base_bytes_ = read_file_bytes(base_);
    folder_ = dir_.path("live");
    options_.multiple_assignment = 1;
  }
  // The same images in the same order, indexed from scratch.
  Index fresh(const std::vector<std::pair<std::string, size_t>>& images) const {
    Index index(codebook_);
    for (const auto& [name, i] : images) index.add({images_[i]}, {name});
    return index;
  }
  void expect_same(const Index& a, const Index& b) const {
    ASSERT_EQ(a.names(), b.names());
    for (const LocalFeatures& q : queries_) {
      const auto ha = a.search(q, options_), hb = b.search(q, options_);
      ASSERT_EQ(ha.size(), hb.size());
      for (size_t i = 0; i < ha.size(); ++i) {
        EXPECT_EQ(ha[i].name, hb[i].name);
        EXPECT_FLOAT_EQ(ha[i].score, hb[i].score);
      }
    }
  }
  std::string log_path(int g) const { return folder_ + "/log-" + std::to_string(g) + ".wal"; }

  std::vector<LocalFeatures> images_, queries_;
  Codebook codebook_;
  SearchOptions options_;
  test::TempDir dir_;
  std::string base_, folder_;
  std::vector<uint8_t> base_bytes_;
};

TEST_F(LiveIndexTest, ChangesSurviveAReopenExactly) {
  {
    LiveIndex live(folder_, base_);
    live.add("new4", images_[4]);
    live.add("new5", images_[5]);
    live.remove("db1");
    live.add("db1", images_[7]);  // a name removed can come back with other content
    EXPECT_EQ(live.status().log_records, 4);
  }
  LiveIndex reopened(folder_, base_);
  EXPECT_EQ(reopened.status().replayed, 4);
  expect_same(reopened.index(),
              fresh({{"db0", 0}, {"db2", 2}, {"db3", 3}, {"new4", 4}, {"new5", 5}, {"db1", 7}}));
  EXPECT_EQ(read_file_bytes(base_), base_bytes_);  // the base index file is never written
}

TEST_F(LiveIndexTest, ARecordTornByACrashIsDroppedDamageInTheMiddleIsAnError) {
  {
    LiveIndex live(folder_, base_);
    live.add("new4", images_[4]);
    live.add("new5", images_[5]);
  }
  const std::vector<uint8_t> complete = read_file_bytes(log_path(0));
  // A crash in the middle of a third append: the frame and part of the record reached the disk.
  {
    LiveIndex live(folder_, base_);
    live.add("new6", images_[6]);
  }
  const std::vector<uint8_t> three = read_file_bytes(log_path(0));
  for (const size_t cut : {complete.size() + 5, complete.size() + 40, three.size() - 1}) {
    std::ofstream(log_path(0), std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(three.data()), static_cast<std::streamsize>(cut));
    LiveIndex live(folder_, base_);
    EXPECT_EQ(live.status().replayed, 2) << cut;
    EXPECT_FALSE(live.index().contains("new6"));
    EXPECT_EQ(live.status().log_bytes, static_cast<int64_t>(complete.size()));  // cut back
  }
  // A flipped byte inside the first record, with an intact record after it: refused, not dropped.
  std::vector<uint8_t> damaged = three;
  damaged[40] ^= 0x55;
  std::ofstream(log_path(0), std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(damaged.data()),
             static_cast<std::streamsize>(damaged.size()));
  test::expect_error([&] { LiveIndex live(folder_, base_); },
                     {"log-0.wal", "damaged at byte 16", "record 1"});
}

TEST_F(LiveIndexTest, CompactionSwitchesGenerationsAndKeepsTheBase) {
  {
    LiveIndex live(folder_, base_);
    live.add("new4", images_[4]);
    live.remove("db0");
    live.compact();
    EXPECT_EQ(live.status().generation, 1);
    EXPECT_EQ(live.status().log_records, 0);
    live.add("new5", images_[5]);
    live.compact();
    live.remove("db2");
  }
  EXPECT_FALSE(file_exists(folder_ + "/index-1.mdai"));  // replaced by generation 2
  EXPECT_FALSE(file_exists(log_path(1)));
  EXPECT_TRUE(file_exists(folder_ + "/index-2.mdai"));
  LiveIndex reopened(folder_, base_);
  EXPECT_EQ(reopened.status().generation, 2);
  EXPECT_EQ(reopened.status().replayed, 1);
  expect_same(reopened.index(), fresh({{"db1", 1}, {"db3", 3}, {"new4", 4}, {"new5", 5}}));
  EXPECT_EQ(read_file_bytes(base_), base_bytes_);

  // A compaction cut short before CURRENT switched: its files are ignored and later replaced.
  reopened.index().save(folder_ + "/index-3.mdai");
  std::ofstream(log_path(3)) << "half";
  LiveIndex again(folder_, base_);
  EXPECT_EQ(again.status().generation, 2);
  again.compact();
  EXPECT_EQ(again.status().generation, 3);
  expect_same(LiveIndex(folder_, base_).index(), reopened.index());
}

TEST_F(LiveIndexTest, RefusedChangesLeaveTheLogAsItWas) {
  LiveIndex live(folder_, base_);
  live.add("new4", images_[4]);
  const int64_t bytes = live.status().log_bytes;
  test::expect_error([&] { live.add("db0", images_[5]); }, {"db0", "already indexed"});
  test::expect_error([&] { live.remove("missing"); }, {"missing", "no image"});
  LocalFeatures wrong = images_[5];
  wrong.dim = 8;
  test::expect_error([&] { live.add("wrong", wrong); }, {"wrong", "dimension 8", "16"});
  LocalFeatures nan = images_[5];
  nan.descriptors[kDim + 3] = std::nanf("");
  test::expect_error([&] { live.add("nan", nan); }, {"nan", "non-finite", "descriptor 1"});
  test::expect_error([&] { live.add("", images_[5]); }, {"needs a name"});
  EXPECT_EQ(live.status().log_bytes, bytes);
  EXPECT_EQ(live.status().log_records, 1);
}

TEST_F(LiveIndexTest, AFolderStartedFromAnotherIndexIsRefused) {
  { LiveIndex live(folder_, base_); }
  Index other(codebook_);
  other.add({images_[8]}, {"x"});
  other.save(dir_.path("other.mdai"));
  test::expect_error([&] { LiveIndex live(folder_, dir_.path("other.mdai")); },
                     {"live", "another index file", "other.mdai"});
  std::ofstream(folder_ + "/CURRENT") << "generation x";
  test::expect_error([&] { LiveIndex live(folder_, base_); }, {"CURRENT", "generation x"});
}

}  // namespace
}  // namespace mda
