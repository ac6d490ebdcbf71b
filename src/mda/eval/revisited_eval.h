// The Revisited Oxford/Paris evaluation protocol (revisitop): Easy, Medium and Hard mAP with
// junk removed, trapezoidal AP, queries without positives skipped, and mP@k.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mda/data/revisited_dataset.h"
#include "mda/io/ndarray.h"

namespace mda {

// A ranking in revisitop's orientation: ranked() rows x n_queries columns; column q lists the
// database indices for query q, best first. A full ranking has n_db rows; a top-k one (mda search
// --topk) fewer, and the database images it leaves out count as never retrieved.
struct Ranking {
  int64_t n_db = 0;
  int64_t n_queries = 0;
  int64_t depth = -1;          // rows held; -1 = n_db (a full ranking)
  std::vector<int64_t> ranks;  // row-major: ranks[r * n_queries + q]

  int64_t ranked() const { return depth < 0 ? n_db : depth; }

  int64_t at(int64_t rank, int64_t query) const {
    return ranks[static_cast<size_t>(rank * n_queries + query)];
  }
};

// Checks the shape (1..n_db rows, n_queries columns) and that every column holds distinct indices
// of 0..n_db-1 (all of them when it has n_db rows); `source` names the file.
Ranking ranking_from_array(const NdArray& array, int64_t n_db, int64_t n_queries,
                           const std::string& source);

// AP of one query from the 0-based positions of its positives after junk removal (ascending).
double average_precision(const std::vector<int64_t>& positions, int64_t n_positives);

enum class Protocol { kEasy, kMedium, kHard };
const char* protocol_name(Protocol protocol);

struct ProtocolResult {
  Protocol protocol = Protocol::kMedium;
  int64_t evaluated_queries = 0;  // queries with at least one positive
  bool applicable() const { return evaluated_queries > 0; }
  double map = 0;               // in [0, 1]; meaningless when not applicable
  std::vector<double> mp_at_k;  // one per kappa
  std::vector<double> ap;       // per query; NaN where skipped
};

struct Evaluation {
  std::vector<int64_t> kappas;
  std::vector<ProtocolResult> protocols;  // easy, medium, hard
};

ProtocolResult evaluate_protocol(const Ranking& ranking, const std::vector<QueryGroundTruth>& gnd,
                                 Protocol protocol, const std::vector<int64_t>& kappas);
Evaluation evaluate_revisited(const Ranking& ranking, const std::vector<QueryGroundTruth>& gnd,
                              const std::vector<int64_t>& kappas = {1, 5, 10});

}  // namespace mda
