// Golden tests of the Revisited protocol against hand-computed values.
#include "mda/eval/revisited_eval.h"

#include <gtest/gtest.h>

#include <cmath>

#include "mda/eval/evaluation_report.h"
#include "test_helpers.h"

namespace mda {
namespace {

// One query column per vector; every vector is the full ranking of that query.
Ranking make_ranking(const std::vector<std::vector<int64_t>>& columns) {
  Ranking r;
  r.n_queries = static_cast<int64_t>(columns.size());
  r.n_db = static_cast<int64_t>(columns[0].size());
  r.ranks.resize(static_cast<size_t>(r.n_db * r.n_queries));
  for (int64_t q = 0; q < r.n_queries; ++q) {
    for (int64_t i = 0; i < r.n_db; ++i)
      r.ranks[static_cast<size_t>(i * r.n_queries + q)] =
          columns[static_cast<size_t>(q)][static_cast<size_t>(i)];
  }
  return r;
}

QueryGroundTruth truth(std::vector<int64_t> easy, std::vector<int64_t> hard,
                       std::vector<int64_t> junk) {
  QueryGroundTruth t;
  t.easy = std::move(easy);
  t.hard = std::move(hard);
  t.junk = std::move(junk);
  return t;
}

TEST(AveragePrecision, TrapezoidRule) {
  // Positives at ranks 0 and 2 of 2 positives:
  // j=0,r=0: (1 + 1/1)/2 * 1/2 = 0.5 ; j=1,r=2: (1/2 + 2/3)/2 * 1/2 = 7/24.
  EXPECT_NEAR(average_precision({0, 2}, 2), 0.5 + 7.0 / 24.0, 1e-12);
  // A positive that is never retrieved still counts in the denominator.
  EXPECT_NEAR(average_precision({0}, 2), 0.5, 1e-12);
  // First positive at rank 1: (0/1 + 1/2)/2 = 0.25.
  EXPECT_NEAR(average_precision({1}, 1), 0.25, 1e-12);
  EXPECT_NEAR(average_precision({0, 1, 2}, 3), 1.0, 1e-12);
}

TEST(RevisitedEval, JunkBeforeAndBetweenPositivesIsRemoved) {
  // Ranking 5 2 0 3 1 4: junk = {5, 3}, positives (medium) = {0, 1}.
  // Positions: 0 -> 2, 1 -> 4. Junk before 0: one (5); before 1: two (5, 3).
  // Adjusted positions 1 and 2, so AP = (0/1 + 1/2)/2 * 1/2 + (1/2 + 2/3)/2 * 1/2 = 1/8 + 7/24.
  const Ranking r = make_ranking({{5, 2, 0, 3, 1, 4}});
  const auto result =
      evaluate_protocol(r, {truth({0}, {1}, {5, 3})}, Protocol::kMedium, {1, 5, 10});
  ASSERT_EQ(result.evaluated_queries, 1);
  EXPECT_NEAR(result.map, 1.0 / 8 + 7.0 / 24, 1e-12);
  // mP@k: 1-based adjusted positions {2, 3}. k=1: kq = 1, 0 hits -> 0.
  // k=5: kq = min(3, 5) = 3, hits 2 -> 2/3. k=10: same, 2/3.
  EXPECT_NEAR(result.mp_at_k[0], 0.0, 1e-12);
  EXPECT_NEAR(result.mp_at_k[1], 2.0 / 3, 1e-12);
  EXPECT_NEAR(result.mp_at_k[2], 2.0 / 3, 1e-12);
}

TEST(RevisitedEval, ProtocolsSplitEasyHardJunk) {
  // Ranking 1 0 2 3: easy = {0}, hard = {2}, junk = {1}.
  const Ranking r = make_ranking({{1, 0, 2, 3}});
  const std::vector<QueryGroundTruth> gnd = {truth({0}, {2}, {1})};
  const Evaluation e = evaluate_revisited(r, gnd, {1});
  // Easy: positives {0}, junk {1, 2}: 0 at position 1, one junk before -> 0. AP = 1.
  EXPECT_NEAR(e.protocols[0].map, 1.0, 1e-12);
  // Medium: positives {0, 2}, junk {1}: positions 1, 2 -> adjusted 0, 1. AP = 1.
  EXPECT_NEAR(e.protocols[1].map, 1.0, 1e-12);
  // Hard: positives {2}, junk {1, 0}: position 2, two junk before -> 0. AP = 1.
  EXPECT_NEAR(e.protocols[2].map, 1.0, 1e-12);

  // Reversed ranking 3 2 0 1.
  const Ranking reversed = make_ranking({{3, 2, 0, 1}});
  const Evaluation f = evaluate_revisited(reversed, gnd, {1});
  // Easy: 0 at position 2, junk before it: 2 (position 1) -> adjusted 1: AP = (0 + 1/2)/2 = 1/4.
  EXPECT_NEAR(f.protocols[0].map, 0.25, 1e-12);
  // Medium: positives at positions 1 (2) and 2 (0), no junk before -> AP = (0+1/2)/2/2 +
  // (1/2+2/3)/2/2.
  EXPECT_NEAR(f.protocols[1].map, 0.125 + 7.0 / 24, 1e-12);
  // Hard: 2 at position 1, no junk before -> AP = 1/4.
  EXPECT_NEAR(f.protocols[2].map, 0.25, 1e-12);
}

TEST(RevisitedEval, QueriesWithoutPositivesAreSkipped) {
  const Ranking r = make_ranking({{0, 1, 2}, {2, 1, 0}});
  // Query 1 has no positive at all: it must not count in the mean.
  const auto result =
      evaluate_protocol(r, {truth({0}, {}, {}), truth({}, {}, {})}, Protocol::kMedium, {1});
  EXPECT_EQ(result.evaluated_queries, 1);
  EXPECT_NEAR(result.map, 1.0, 1e-12);
  EXPECT_TRUE(std::isnan(result.ap[1]));
}

TEST(RevisitedEval, ProtocolWithoutAnyPositiveIsNotApplicable) {
  const Ranking r = make_ranking({{0, 1, 2}});
  const Evaluation e = evaluate_revisited(r, {truth({1}, {}, {})}, {1, 5});
  EXPECT_TRUE(e.protocols[1].applicable());
  EXPECT_FALSE(e.protocols[2].applicable());
  const std::string table = format_evaluation_table(e);
  EXPECT_NE(table.find("n/a"), std::string::npos);
  const Value json = evaluation_to_value(e);
  EXPECT_TRUE(json.find("hard")->find("map")->is_null());
  EXPECT_FALSE(json.find("hard")->find("applicable")->as_bool());
}

TEST(RevisitedEval, AveragesOverQueries) {
  // Query 0: perfect (AP 1). Query 1: its positive 0 at position 2 -> AP = (0/2 + 1/3)/2 = 1/6.
  const Ranking r = make_ranking({{0, 1, 2}, {1, 2, 0}});
  const auto result =
      evaluate_protocol(r, {truth({0}, {}, {}), truth({0}, {}, {})}, Protocol::kEasy, {1});
  EXPECT_NEAR(result.map, (1.0 + 1.0 / 6) / 2, 1e-12);
  // mP@1: query 0 -> 1; query 1: kq = min(3, 1) = 1, no hit -> 0.
  EXPECT_NEAR(result.mp_at_k[0], 0.5, 1e-12);
}

TEST(RankingValidation, RejectsWrongShapeMissingAndDuplicateIndices) {
  using test::expect_error;
  expect_error(
      [] {
        ranking_from_array(NdArray::from_vector<int64_t>({0, 1, 2}, {3, 1}), 3, 2, "r.npy");
      },
      {"r.npy", "shape (3, 1)", "expected (3, 2)"});
  expect_error(
      [] {
        ranking_from_array(NdArray::from_vector<int64_t>({0, 1, 1}, {3, 1}), 3, 1, "r.npy");
      },
      {"r.npy", "index 1 twice"});
  expect_error(
      [] {
        ranking_from_array(NdArray::from_vector<int64_t>({0, 1, 3}, {3, 1}), 3, 1, "r.npy");
      },
      {"r.npy", "index 3"});
  expect_error(
      [] {
        ranking_from_array(NdArray::from_vector<float>({0, 1, 2}, {3, 1}), 3, 1, "r.npy");
      },
      {"r.npy", "integers"});
  const Ranking ok =
      ranking_from_array(NdArray::from_vector<int32_t>({2, 0, 1, 1, 0, 2}, {3, 2}), 3, 2, "r.npy");
  EXPECT_EQ(ok.at(0, 0), 2);
  EXPECT_EQ(ok.at(0, 1), 0);
}

TEST(RankByScores, TiesGoToTheLowerIndex) {
  const Ranking r = rank_by_scores({0.5f, 0.9f, 0.5f, 0.1f}, 1, 4);
  EXPECT_EQ(r.ranks, (std::vector<int64_t>{1, 0, 2, 3}));
}

}  // namespace
}  // namespace mda
