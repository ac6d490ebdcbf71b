#include "mda/eval/revisited_eval.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "mda/util/error.h"

namespace mda {

Ranking ranking_from_array(const NdArray& array, int64_t n_db, int64_t n_queries,
                           const std::string& source) {
  if (array.dtype != DType::kInt32 && array.dtype != DType::kInt64 &&
      array.dtype != DType::kUInt16) {
    fail(source, ": ranks must be integers, found ", dtype_name(array.dtype));
  }
  if (array.shape.size() != 2 || array.shape[0] < 1 || array.shape[0] > n_db ||
      array.shape[1] != n_queries) {
    fail(source, ": ranks have shape ", array.shape_string(), ", expected (", n_db, ", ", n_queries,
         ") = (database images, queries), or fewer rows for a top-k ranking");
  }
  Ranking ranking;
  ranking.n_db = n_db;
  ranking.n_queries = n_queries;
  ranking.depth = array.shape[0];
  ranking.ranks = array.to_int64();
  std::vector<int64_t> seen_in(static_cast<size_t>(n_db), -1);
  for (int64_t q = 0; q < n_queries; ++q) {
    for (int64_t r = 0; r < ranking.depth; ++r) {
      const int64_t index = ranking.at(r, q);
      if (index < 0 || index >= n_db) {
        fail(source, ": query ", q, " ranks database index ", index, " at position ", r,
             ", outside 0..", n_db - 1);
      }
      if (seen_in[static_cast<size_t>(index)] == q) {
        fail(source, ": query ", q, " ranks database index ", index,
             " twice (every index must appear exactly once)");
      }
      seen_in[static_cast<size_t>(index)] = q;
    }
  }
  // n_db distinct in-range indices per column means none is missing from a full ranking.
  return ranking;
}

double average_precision(const std::vector<int64_t>& positions, int64_t n_positives) {
  double ap = 0;
  const double recall_step = 1.0 / static_cast<double>(n_positives);
  for (size_t j = 0; j < positions.size(); ++j) {
    const double rank = static_cast<double>(positions[j]);
    const double precision_before = rank == 0 ? 1.0 : static_cast<double>(j) / rank;
    const double precision_at = static_cast<double>(j + 1) / (rank + 1);
    ap += (precision_before + precision_at) * recall_step / 2.0;
  }
  return ap;
}

const char* protocol_name(Protocol protocol) {
  switch (protocol) {
    case Protocol::kEasy:
      return "easy";
    case Protocol::kMedium:
      return "medium";
    case Protocol::kHard:
      return "hard";
  }
  return "?";
}

namespace {
std::vector<int64_t> concat(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  std::vector<int64_t> out = a;
  out.insert(out.end(), b.begin(), b.end());
  return out;
}
}  // namespace

ProtocolResult evaluate_protocol(const Ranking& ranking, const std::vector<QueryGroundTruth>& gnd,
                                 Protocol protocol, const std::vector<int64_t>& kappas) {
  if (static_cast<int64_t>(gnd.size()) != ranking.n_queries) {
    fail("ranking has ", ranking.n_queries, " queries, the ground truth ", gnd.size());
  }
  ProtocolResult result;
  result.protocol = protocol;
  result.mp_at_k.assign(kappas.size(), 0.0);
  result.ap.assign(gnd.size(), std::numeric_limits<double>::quiet_NaN());
  double map_sum = 0;
  std::vector<int64_t> position_of(static_cast<size_t>(ranking.n_db));
  for (size_t q = 0; q < gnd.size(); ++q) {
    const QueryGroundTruth& truth = gnd[q];
    std::vector<int64_t> positives, junk;
    switch (protocol) {
      case Protocol::kEasy:
        positives = truth.easy;
        junk = concat(truth.junk, truth.hard);
        break;
      case Protocol::kMedium:
        positives = concat(truth.easy, truth.hard);
        junk = truth.junk;
        break;
      case Protocol::kHard:
        positives = truth.hard;
        junk = concat(truth.junk, truth.easy);
        break;
    }
    if (positives.empty()) continue;  // revisitop skips queries without positives
    std::fill(position_of.begin(), position_of.end(), -1);  // -1: not in a top-k ranking
    for (int64_t r = 0; r < ranking.ranked(); ++r) {
      position_of[static_cast<size_t>(ranking.at(r, static_cast<int64_t>(q)))] = r;
    }
    const auto sorted_positions = [&](const std::vector<int64_t>& indices) {
      std::vector<int64_t> positions;
      for (int64_t index : indices) {
        const int64_t position = position_of[static_cast<size_t>(index)];
        if (position >= 0) positions.push_back(position);
      }
      std::sort(positions.begin(), positions.end());
      positions.erase(std::unique(positions.begin(), positions.end()), positions.end());
      return positions;
    };
    std::vector<int64_t> pos = sorted_positions(positives);
    // A top-k ranking may leave positives out: they count as never retrieved (AP adds nothing
    // for them), and for mP@k they lie beyond every k.
    bool positives_left_out = false;
    for (int64_t index : positives)
      positives_left_out |= position_of[static_cast<size_t>(index)] < 0;
    const std::vector<int64_t> junk_pos = sorted_positions(junk);
    // Each positive moves up by the number of junk images ranked before it.
    size_t ij = 0;
    int64_t removed = 0;
    for (int64_t& p : pos) {
      while (ij < junk_pos.size() && p > junk_pos[ij]) {
        ++removed;
        ++ij;
      }
      p -= removed;
    }
    const double ap = average_precision(pos, static_cast<int64_t>(positives.size()));
    result.ap[q] = ap;
    map_sum += ap;
    ++result.evaluated_queries;
    if (pos.empty()) continue;  // a top-k ranking that retrieved none: AP and precisions 0
    // 1-based position of the last positive
    const int64_t last = positives_left_out ? std::numeric_limits<int64_t>::max() : pos.back() + 1;
    for (size_t k = 0; k < kappas.size(); ++k) {
      const int64_t kq = std::min(last, kappas[k]);
      int64_t hits = 0;
      for (int64_t p : pos) hits += (p + 1 <= kq) ? 1 : 0;
      result.mp_at_k[k] += static_cast<double>(hits) / static_cast<double>(kq);
    }
  }
  if (result.evaluated_queries > 0) {
    result.map = map_sum / static_cast<double>(result.evaluated_queries);
    for (double& p : result.mp_at_k) p /= static_cast<double>(result.evaluated_queries);
  } else {
    result.map = std::numeric_limits<double>::quiet_NaN();
    for (double& p : result.mp_at_k) p = std::numeric_limits<double>::quiet_NaN();
  }
  return result;
}

Evaluation evaluate_revisited(const Ranking& ranking, const std::vector<QueryGroundTruth>& gnd,
                              const std::vector<int64_t>& kappas) {
  for (int64_t k : kappas) {
    if (k < 1) fail("mP@k needs k >= 1, found ", k);
  }
  Evaluation evaluation;
  evaluation.kappas = kappas;
  for (Protocol p : {Protocol::kEasy, Protocol::kMedium, Protocol::kHard}) {
    evaluation.protocols.push_back(evaluate_protocol(ranking, gnd, p, kappas));
  }
  return evaluation;
}

}  // namespace mda
