// Tests of the torch-free training pieces: tuple drawing and hard-negative mining, augmentation,
// the training options, and the in-memory ASMK* ranking used by validation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "mda/asmk/asmk_ranking.h"
#include "mda/config/config.h"
#include "mda/train/augmentation.h"
#include "mda/train/training_options.h"
#include "mda/train/tuple_mining.h"
#include "object_features.h"
#include "test_helpers.h"

namespace mda {
namespace {

TEST(TupleMining, PairsShareALabelAndNeverRepeatTheImage) {
  const std::vector<int> labels = {0, 0, 1, 2, 2, 2, 3};  // labels 1 and 3 have no pair
  SplitMix64 rng(7);
  const auto pairs = draw_query_pairs(labels, 500, rng);
  ASSERT_EQ(pairs.size(), 500u);
  std::set<int64_t> queries;
  for (const auto& [q, p] : pairs) {
    EXPECT_NE(q, p);
    EXPECT_EQ(labels[static_cast<size_t>(q)], labels[static_cast<size_t>(p)]);
    queries.insert(q);
  }
  EXPECT_EQ(queries, (std::set<int64_t>{0, 1, 3, 4, 5}));  // every image that has a partner
  SplitMix64 again(7);
  EXPECT_EQ(draw_query_pairs(labels, 500, again), pairs);  // seeded
  SplitMix64 other(7);
  test::expect_error([&] { draw_query_pairs({0, 1, 2}, 3, other); }, {"no label has two images"});
}

TEST(TupleMining, PoolIsADistinctSample) {
  SplitMix64 rng(3);
  const std::vector<int64_t> pool = draw_negative_pool(100, 30, rng);
  EXPECT_EQ(pool.size(), 30u);
  EXPECT_EQ(std::set<int64_t>(pool.begin(), pool.end()).size(), 30u);
  for (int64_t i : pool) EXPECT_TRUE(i >= 0 && i < 100);
  const std::vector<int64_t> all = draw_negative_pool(10, 50, rng);
  EXPECT_EQ(std::set<int64_t>(all.begin(), all.end()).size(), 10u);
}

TEST(TupleMining, HardestNegativesOnePerLabelNeverTheQueryLabel) {
  // 2-d unit descriptors at angles; the query (image 0, label 0) is at angle 0.
  const auto unit = [](double degrees) {
    const double r = degrees * M_PI / 180.0;
    return std::vector<float>{static_cast<float>(std::cos(r)), static_cast<float>(std::sin(r))};
  };
  const std::vector<int> labels = {0, 0, 1, 1, 2, 3, 4};
  // Pool: images 1..6 at increasing angles from the query.
  const std::vector<int64_t> pool_images = {1, 2, 3, 4, 5, 6};
  const std::vector<double> angles = {5, 10, 20, 30, 40, 90};
  std::vector<float> pool;
  for (double a : angles) {
    const auto v = unit(a);
    pool.insert(pool.end(), v.begin(), v.end());
  }
  const MinedNegatives mined = mine_hard_negatives(unit(0), {0}, pool, pool_images, 2, labels, 3);
  // Image 1 has the query's label; image 3 repeats label 1 of image 2.
  EXPECT_EQ(mined.negatives[0], (std::vector<int64_t>{2, 4, 5}));
  const double expected = (2 * std::sin(10 * M_PI / 360) + 2 * std::sin(30 * M_PI / 360) +
                           2 * std::sin(40 * M_PI / 360)) /
                          3;
  EXPECT_NEAR(mined.mean_distance, expected, 1e-6);
  EXPECT_EQ(mined.short_queries, 0);
  const MinedNegatives many = mine_hard_negatives(unit(0), {0}, pool, pool_images, 2, labels, 9);
  EXPECT_EQ(many.negatives[0].size(), 4u);  // only labels 1..4 exist besides the query's
  EXPECT_EQ(many.short_queries, 1);
  test::expect_error([&] { mine_hard_negatives(unit(0), {0}, pool, {1}, 2, labels, 3); },
                     {"do not match"});
}

TEST(Augmentation, DisabledIsIdentityEnabledIsSeededAndBounded) {
  Image image(40, 30);
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>(i * 7);
  AugmentationOptions options;
  SplitMix64 rng(1);
  EXPECT_EQ(augment_image(image, options, rng).pixels, image.pixels);
  options.enabled = true;
  SplitMix64 a(5), b(5), c(6);
  const Image x = augment_image(image, options, a);
  const Image y = augment_image(image, options, b);
  const Image z = augment_image(image, options, c);
  EXPECT_EQ(x.pixels, y.pixels);
  EXPECT_NE(x.pixels, z.pixels);
  // Crop keeps >= 64% of the area (>= 80% of each side), then a rescale within [0.75, 1].
  EXPECT_GE(x.width, static_cast<int>(40 * 0.8 * 0.75) - 1);
  EXPECT_LE(x.width, 40);
  options.crop_min_area = 0;
  test::expect_error([&] { options.validate(); }, {"crop_min_area", "0"});
}

TEST(TrainingOptions, DefaultsAreHowsAndBadValuesNameTheKey) {
  Config config;
  const TrainingOptions o = TrainingOptions::from_config(config);
  EXPECT_EQ(o.qsize, 2000);
  EXPECT_EQ(o.poolsize, 20000);
  EXPECT_EQ(o.nnum, 5);
  EXPECT_EQ(o.batch_tuples, 5);
  EXPECT_DOUBLE_EQ(o.margin, 0.8);
  EXPECT_DOUBLE_EQ(o.diversity_weight, 1.0);
  EXPECT_DOUBLE_EQ(o.lr_decay, 0.99);
  EXPECT_DOUBLE_EQ(o.weight_decay, 1e-4);
  EXPECT_FALSE(o.validation.enabled());
  EXPECT_FALSE(o.augmentation.enabled);
  Config bad;
  bad.set_override("training.optimizer.lr_decay=1.5");
  test::expect_error([&] { TrainingOptions::from_config(bad); }, {"lr_decay", "1.5"});
  Config method;
  method.set_override("training.validation.method=knn");
  test::expect_error([&] { TrainingOptions::from_config(method); }, {"validation.method", "knn"});
  Config orphan;
  orphan.set_override("training.validation.dataset=val");
  test::expect_error([&] { TrainingOptions::from_config(orphan); }, {"data_root"});
}

TEST(AsmkFullRanking, RanksTheSameObjectFirst) {
  const std::vector<int> db_objects = {0, 1, 2, 3, 0, 1, 2, 3, 4, 5};
  const std::vector<int> query_objects = {2, 0, 5};
  AsmkEvaluationOptions options;
  // Coarse words (about three parts each), so that residuals tell the parts apart.
  options.codebook.k = 12;
  options.search.multiple_assignment = 1;
  const Ranking ranking = asmk_full_ranking(test::object_images(db_objects, 16, 1),
                                            test::object_images(query_objects, 16, 2), options);
  ASSERT_EQ(ranking.n_db, 10);
  ASSERT_EQ(ranking.n_queries, 3);
  EXPECT_EQ(std::set<int64_t>({ranking.at(0, 0), ranking.at(1, 0)}), (std::set<int64_t>{2, 6}));
  EXPECT_EQ(std::set<int64_t>({ranking.at(0, 1), ranking.at(1, 1)}), (std::set<int64_t>{0, 4}));
  EXPECT_EQ(ranking.at(0, 2), 9);
  // Every column is a full permutation of the database.
  for (int64_t q = 0; q < 3; ++q) {
    std::set<int64_t> seen;
    for (int64_t r = 0; r < 10; ++r) seen.insert(ranking.at(r, q));
    EXPECT_EQ(seen.size(), 10u);
  }
}

}  // namespace
}  // namespace mda

namespace mda {
namespace {

// The training defaults are written in training_options.h and configs/default.yml: they must agree
// (the validation codebook size and the run folder are the configuration's own).
TEST(TrainingOptionsDefaults, DefaultYmlAgreesWithTheStructDefaults) {
  const TrainingOptions read = TrainingOptions::from_config(Config()), want;
  EXPECT_EQ(read.image_extension, want.image_extension);
  EXPECT_EQ(read.epochs, want.epochs);
  EXPECT_EQ(read.qsize, want.qsize);
  EXPECT_EQ(read.poolsize, want.poolsize);
  EXPECT_EQ(read.nnum, want.nnum);
  EXPECT_EQ(read.batch_tuples, want.batch_tuples);
  EXPECT_EQ(read.image_size, want.image_size);
  EXPECT_EQ(read.margin, want.margin);
  EXPECT_EQ(read.diversity_weight, want.diversity_weight);
  EXPECT_EQ(read.lr, want.lr);
  EXPECT_EQ(read.attention_lr, want.attention_lr);
  EXPECT_EQ(read.weight_decay, want.weight_decay);
  EXPECT_EQ(read.lr_decay, want.lr_decay);
  EXPECT_EQ(read.reduction_init, want.reduction_init);
  EXPECT_EQ(read.freeze_reduction, want.freeze_reduction);
  EXPECT_EQ(read.whitening_images, want.whitening_images);
  EXPECT_EQ(read.whitening_features, want.whitening_features);
  EXPECT_EQ(read.augmentation.enabled, want.augmentation.enabled);
  EXPECT_EQ(read.augmentation.crop_min_area, want.augmentation.crop_min_area);
  EXPECT_EQ(read.augmentation.scale_min, want.augmentation.scale_min);
  EXPECT_EQ(read.augmentation.scale_max, want.augmentation.scale_max);
  EXPECT_EQ(read.augmentation.color_jitter, want.augmentation.color_jitter);
  EXPECT_EQ(read.mixed_precision, want.mixed_precision);
  EXPECT_EQ(read.seed, want.seed);
  EXPECT_EQ(read.validation.every, want.validation.every);
  EXPECT_EQ(read.validation.method, want.validation.method);
  EXPECT_EQ(read.validation.image_size, want.validation.image_size);
  EXPECT_EQ(read.validation.scales, want.validation.scales);
  EXPECT_EQ(read.validation.features_num, want.validation.features_num);
  EXPECT_EQ(read.validation.selection, want.validation.selection);
}

}  // namespace
}  // namespace mda
