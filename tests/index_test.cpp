// The public API's Index (mda/index.h) and evaluate (mda/evaluate.h): a self-contained index file,
// removal by name, concurrent searches beside adds and removes, and the revisitop numbers.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <thread>

#include "mda/codebook.h"
#include "mda/data/revisited_dataset.h"
#include "mda/eval/revisited_eval.h"
#include "mda/evaluate.h"
#include "mda/index.h"
#include "mda/io/json.h"
#include "mda/util/fs.h"
#include "object_features.h"
#include "search_hits_check.h"
#include "test_helpers.h"

namespace mda {
namespace {

constexpr int kDim = 16;

std::vector<std::string> names_of(const std::string& prefix, size_t n) {
  std::vector<std::string> names;
  for (size_t i = 0; i < n; ++i) names.push_back(prefix + std::to_string(i));
  return names;
}

class IndexApi : public ::testing::Test {
 protected:
  void SetUp() override {
    database_ = test::object_images({0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5}, kDim, 1);
    queries_ = test::object_images({2, 5, 0}, kDim, 2);
    codebook_ = test::codebook_of(database_, 12);
    options_.multiple_assignment = 1;
  }
  Index build(const std::vector<size_t>& which) const {
    Index index(codebook_);
    std::vector<LocalFeatures> images;
    std::vector<std::string> names;
    for (size_t i : which) {
      images.push_back(database_[i]);
      names.push_back("db" + std::to_string(i));
    }
    index.add(images, names);
    return index;
  }
  std::vector<LocalFeatures> database_, queries_;
  Codebook codebook_;
  SearchOptions options_;
  test::TempDir dir_;
};

TEST_F(IndexApi, RanksTheQueriedObjectFirstAndNamesItsImages) {
  const Index index = build({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  const auto hits = index.search(queries_, options_);
  ASSERT_EQ(hits.size(), 3u);
  ASSERT_EQ(hits[0].size(), 12u);  // topk 0: every image
  // Object 2 is images 2 and 8, object 5 images 5 and 11, object 0 images 0 and 6.
  EXPECT_EQ(std::set<std::string>({hits[0][0].name, hits[0][1].name}),
            (std::set<std::string>{"db2", "db8"}));
  EXPECT_EQ(std::set<std::string>({hits[1][0].name, hits[1][1].name}),
            (std::set<std::string>{"db5", "db11"}));
  EXPECT_EQ(std::set<int64_t>({hits[2][0].index, hits[2][1].index}), (std::set<int64_t>{0, 6}));
  for (const auto& list : hits)
    for (size_t r = 1; r < list.size(); ++r) EXPECT_GE(list[r - 1].score, list[r].score);
  SearchOptions top3 = options_;
  top3.topk = 3;
  EXPECT_EQ(index.search(queries_[0], top3).size(), 3u);
  EXPECT_EQ(index.statistics().images, 12);
}

TEST_F(IndexApi, ASavedIndexOpensWithItsCodebookAndNamesAndSearchesTheSame) {
  const Index index = build({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  index.save(dir_.path("db.ivf"));
  const Index opened = Index::open(dir_.path("db.ivf"));
  EXPECT_EQ(opened.size(), 12);
  EXPECT_EQ(opened.names(), index.names());
  EXPECT_EQ(opened.codebook().centroids, codebook_.centroids);
  EXPECT_EQ(opened.codebook().fingerprint, codebook_.fingerprint);
  EXPECT_EQ(opened.options().multiple_assignment, 1);
  EXPECT_TRUE(opened.options().binary);
  EXPECT_GT(opened.statistics().file_bytes, 0);
  expect_same_hits(opened.search(queries_, options_), index.search(queries_, options_));
}

TEST_F(IndexApi, DescriptorBatchesAndFeatureListsGiveTheSameIndex) {
  std::vector<float> flat;
  std::vector<int64_t> offsets = {0};
  for (const LocalFeatures& f : database_) {
    flat.insert(flat.end(), f.descriptors.begin(), f.descriptors.end());
    offsets.push_back(offsets.back() + f.count());
  }
  Index batched(codebook_);
  batched.add(DescriptorBatch{flat.data(), offsets.data(), 12, kDim}, names_of("db", 12));
  const Index listed = build({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  expect_same_hits(batched.search(queries_, options_), listed.search(queries_, options_));
  const DescriptorBatch queries{flat.data(), offsets.data(), 3, kDim};
  expect_same_hits(
      batched.search(queries, options_),
      listed.search(std::vector<LocalFeatures>(database_.begin(), database_.begin() + 3),
                    options_));
}

TEST_F(IndexApi, RankGivesSearchsPositionsAndScoresAsQueryMajorArrays) {
  const Index index = build({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  std::vector<float> flat;
  std::vector<int64_t> offsets = {0};
  for (const LocalFeatures& f : queries_) {
    flat.insert(flat.end(), f.descriptors.begin(), f.descriptors.end());
    offsets.push_back(offsets.back() + f.count());
  }
  const DescriptorBatch batch{flat.data(), offsets.data(), 3, kDim};
  for (const int64_t topk : {int64_t{0}, int64_t{3}, int64_t{40}}) {
    SearchOptions options = options_;
    options.topk = topk;
    const auto hits = index.search(queries_, options);
    SearchTimings timings;
    const SearchRanking listed = index.rank(queries_, options, &timings);
    const SearchRanking batched = index.rank(batch, options);
    EXPECT_GT(timings.quantize, 0.0);
    EXPECT_GT(timings.scan, 0.0);
    for (const SearchRanking* ranking : {&listed, &batched}) {
      ASSERT_EQ(ranking->queries, 3);
      ASSERT_EQ(ranking->topk, topk == 3 ? 3 : 12) << "topk " << topk;
      ASSERT_EQ(ranking->images.size(), 3u * static_cast<size_t>(ranking->topk));
      ASSERT_EQ(ranking->scores.size(), ranking->images.size());
      for (size_t q = 0; q < 3; ++q) {
        ASSERT_EQ(hits[q].size(), static_cast<size_t>(ranking->topk));
        for (size_t r = 0; r < hits[q].size(); ++r) {
          const size_t at = q * static_cast<size_t>(ranking->topk) + r;
          EXPECT_EQ(ranking->images[at], hits[q][r].index) << "query " << q << " rank " << r;
          EXPECT_EQ(ranking->scores[at], hits[q][r].score) << "query " << q << " rank " << r;
        }
      }
    }
  }
  // An empty index ranks no image for each query.
  const SearchRanking none = Index(codebook_).rank(queries_, options_);
  EXPECT_EQ(none.queries, 3);
  EXPECT_EQ(none.topk, 0);
  EXPECT_TRUE(none.images.empty());
}

TEST_F(IndexApi, AnImageWithoutDescriptorsKeepsItsPlaceAndIsNeverFound) {
  // What `runtime.on_bad_image: skip` leaves of an unreadable image: a name and no features.
  Index index = build({0, 1, 2});
  LocalFeatures empty;
  empty.dim = kDim;
  index.add({empty, database_[3]}, {"unreadable", "db3"});
  EXPECT_EQ(index.size(), 5);
  EXPECT_TRUE(index.contains("unreadable"));
  SearchOptions all = options_;
  all.topk = 0;
  for (const auto& hits : index.search(queries_, all)) {
    ASSERT_EQ(hits.size(), 5u);
    for (const SearchHit& hit : hits) {
      if (hit.name == "unreadable") {
        EXPECT_EQ(hit.score, 0.0f);
      }
    }
  }
  // The other images are scored as without it.
  Index without = build({0, 1, 2, 3});
  const auto a = index.search(queries_, options_);
  const auto b = without.search(queries_, options_);
  for (size_t q = 0; q < a.size(); ++q) EXPECT_EQ(a[q][0].name, b[q][0].name);
}

TEST_F(IndexApi, SearchesAfterAChangeSeeTheChangeWithAndWithoutIdf) {
  // The index keeps each search context (per-image scales, idf) between searches; every change
  // must drop it.
  SearchOptions idf = options_;
  idf.use_idf = true;
  Index index = build({0, 1, 2});
  index.search(queries_, options_);
  index.search(queries_, idf);
  LocalFeatures more = database_[3];
  index.add({more, database_[4]}, {"db3", "db4"});
  Index fresh = build({0, 1, 2, 3, 4});
  expect_same_hits(index.search(queries_, options_), fresh.search(queries_, options_));
  expect_same_hits(index.search(queries_, idf), fresh.search(queries_, idf));
  index.remove({"db1"});
  Index without = build({0, 2, 3, 4});
  expect_same_hits(index.search(queries_, idf), without.search(queries_, idf));
  expect_same_hits(index.search(queries_, options_), without.search(queries_, options_));
}

TEST_F(IndexApi, RemovingImagesEqualsIndexingTheOthers) {
  Index index = build({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  index.remove({"db8", "db3"});
  const Index fresh = build({0, 1, 2, 4, 5, 6, 7, 9, 10, 11});
  EXPECT_EQ(index.size(), 10);
  EXPECT_EQ(index.names(), fresh.names());
  expect_same_hits(index.search(queries_, options_), fresh.search(queries_, options_));
  // Saved and opened again, still the same; a removed name can be added again.
  index.save(dir_.path("removed.ivf"));
  Index opened = Index::open(dir_.path("removed.ivf"));
  expect_same_hits(opened.search(queries_, options_), fresh.search(queries_, options_));
  opened.add({database_[8]}, {"db8"});
  EXPECT_EQ(opened.names().back(), "db8");
  // An unknown name removes nothing.
  test::expect_error([&] { index.remove({"db0", "nope"}); }, {"nope"});
  EXPECT_EQ(index.size(), 10);
}

TEST_F(IndexApi, BadAddsAndSearchOptionsAreErrorsNamingTheValue) {
  Index index = build({0, 1});
  test::expect_error([&] { index.add({database_[2]}, {"db0"}); }, {"db0", "already indexed"});
  test::expect_error(
      [&] {
        index.add({database_[2], database_[3]}, {"x", "x"});
      },
      {"'x'", "twice"});
  test::expect_error([&] { index.add({database_[2]}, {""}); }, {"empty name"});
  test::expect_error([&] { index.add({database_[2]}, {"a", "b"}); }, {"1 images", "2 names"});
  LocalFeatures wrong;
  wrong.dim = 8;
  wrong.descriptors.assign(8, 0.5f);
  wrong.strengths = {1};
  test::expect_error([&] { index.add({wrong}, {"wrong"}); }, {"'wrong'", "8-d", "16-d"});
  EXPECT_EQ(index.size(), 2);  // nothing of a failed add stays
  SearchOptions bad = options_;
  bad.alpha = 0;
  test::expect_error([&] { index.search(queries_, bad); }, {"alpha", "0"});
  bad = options_;
  bad.similarity_threshold = 1.5;
  test::expect_error([&] { index.search(queries_, bad); }, {"similarity_threshold", "1.5"});
  bad = options_;
  bad.multiple_assignment = 13;
  test::expect_error([&] { index.search(queries_, bad); }, {"multiple_assignment", "13"});
  IndexOptions bad_index;
  bad_index.multiple_assignment = 0;
  test::expect_error([&] { Index(codebook_, bad_index); }, {"multiple_assignment", "0"});
}

TEST_F(IndexApi, OldDamagedAndForeignFilesAreClearErrors) {
  build({0, 1, 2}).save(dir_.path("db.ivf"));
  std::vector<uint8_t> bytes = read_file_bytes(dir_.path("db.ivf"));
  std::vector<uint8_t> old = bytes;
  old[7] = '1';  // the magic string of format 1
  write_file_atomic(dir_.path("old.ivf"), std::string(old.begin(), old.end()));
  test::expect_error([&] { Index::open(dir_.path("old.ivf")); },
                     {"old.ivf", "format 1", "rebuild"});
  write_file_atomic(dir_.path("cut.ivf"), std::string(bytes.begin(), bytes.end() - 9));
  test::expect_error([&] { Index::open(dir_.path("cut.ivf")); }, {"cut.ivf", "truncated"});
  std::vector<uint8_t> flipped = bytes;
  ASSERT_GT(flipped.size(), 200u);
  flipped.at(flipped.size() - 20) ^= 4;  // inside the names section
  write_file_atomic(dir_.path("flipped.ivf"), std::string(flipped.begin(), flipped.end()));
  test::expect_error([&] { Index::open(dir_.path("flipped.ivf")); }, {"flipped.ivf", "checksum"});
  test::expect_error([&] { Index::open(dir_.path("missing.ivf")); }, {"missing.ivf"});
  test::expect_error([&] { Index::open(dir_.path("")); }, {"not a regular file"});
}

TEST_F(IndexApi, SearchesRunningBesideAddsAndRemovesSeeWholeStates) {
  Index index = build({0, 1, 2, 3, 4, 5});  // object 2 is image db2, never removed
  std::atomic<bool> stop{false};
  std::atomic<int> searches{0}, bad{0};
  std::vector<std::thread> searchers;
  for (int t = 0; t < 3; ++t) {
    searchers.emplace_back([&] {
      while (!stop) {
        const std::vector<SearchHit> hits = index.search(queries_[0], options_);
        // Sizes the index has between changes: 6, 7 (db8 added), back to 6 (removed).
        const bool whole = hits.size() == 6 || hits.size() == 7;
        const bool named = !hits.empty() && (hits[0].name == "db2" || hits[0].name == "db8");
        if (!whole || !named || !std::isfinite(hits[0].score)) ++bad;
        ++searches;
      }
    });
  }
  for (int round = 0; round < 30; ++round) {
    index.add({database_[8]}, {"db8"});
    index.remove({"db8"});
  }
  while (searches < 50) std::this_thread::yield();
  stop = true;
  for (auto& t : searchers) t.join();
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(index.size(), 6);
}

TEST(EvaluateApi, GivesTheProtocolNumbersOfTheRankingPerQuery) {
  test::TempDir dir;
  RevisitedDataset dataset;
  dataset.name = "toy";
  dataset.database = {"a", "b", "c", "d"};
  dataset.queries = {"q0", "q1"};
  dataset.gnd.resize(2);
  dataset.gnd[0].easy = {1};
  dataset.gnd[0].hard = {3};
  dataset.gnd[1].easy = {0, 2};
  dataset.gnd[1].junk = {1};
  const std::string path = dir.path("gnd_toy.json");
  write_json(path, revisited_ground_truth_to_value(dataset));
  const std::vector<std::vector<int64_t>> ranks = {{1, 0, 3, 2}, {1, 3, 0, 2}};
  const RetrievalScores scores = evaluate(path, ranks, {1, 2});
  // The same ranking through the library's own protocol code.
  Ranking ranking;
  ranking.n_db = 4;
  ranking.n_queries = 2;
  ranking.ranks = {1, 1, 0, 3, 3, 0, 2, 2};
  const Evaluation want = evaluate_revisited(ranking, dataset.gnd, {1, 2});
  ASSERT_EQ(scores.protocols.size(), 3u);
  EXPECT_EQ(scores.protocols[1].protocol, "medium");
  for (size_t p = 0; p < 3; ++p) {
    EXPECT_EQ(scores.protocols[p].map, want.protocols[p].map);
    EXPECT_EQ(scores.protocols[p].mp_at_k, want.protocols[p].mp_at_k);
    EXPECT_EQ(scores.protocols[p].evaluated_queries, want.protocols[p].evaluated_queries);
  }
  // Medium: q0's positives are b (rank 0) and d (rank 2): AP = (1 + (1 + 2/3) / 2) / 2 ... as
  // revisitop computes it; q1 after junk removal ranks d, a, c: positives at 1 and 2.
  EXPECT_NEAR(scores.protocols[1].map,
              (average_precision({0, 2}, 2) + average_precision({1, 2}, 2)) / 2, 1e-12);
  test::expect_error([&] { evaluate(path, {{0, 1, 2, 3}}); }, {"2 queries", "rankings for 1"});
  test::expect_error([&] { evaluate(path, {{0, 1, 2}, {0, 1, 2, 3}}); }, {"query 1", "4 images"});
  // A top-2 ranking: q0 retrieves b (a positive) first and leaves d out; q1 retrieves only junk
  // and a negative. Left-out positives add nothing to AP.
  const RetrievalScores top2 = evaluate(path, {{1, 0}, {1, 3}}, {1, 2});
  EXPECT_NEAR(top2.protocols[1].map, (average_precision({0}, 2) + 0.0) / 2, 1e-12);
  EXPECT_NEAR(top2.protocols[1].map, 0.25, 1e-12);
  EXPECT_NEAR(top2.protocols[1].mp_at_k[0], 0.5, 1e-12);  // q0 1/1, q1 0
}

}  // namespace
}  // namespace mda
