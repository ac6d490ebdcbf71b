// The Revisited Oxford/Paris protocol (revisitop): Easy, Medium and Hard mAP with junk removed,
// trapezoidal AP, queries without positives skipped, and mP@k.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mda {

struct ProtocolScores {
  std::string protocol;           // "easy", "medium" or "hard"
  int64_t evaluated_queries = 0;  // queries with at least one positive (0: not applicable)
  double map = 0;                 // in [0, 1]
  std::vector<double> mp_at_k;    // one per kappa, in [0, 1]
  std::vector<double> ap;         // per query; NaN where the query was skipped
};

struct RetrievalScores {
  std::vector<int64_t> kappas;
  std::vector<ProtocolScores> protocols;  // easy, medium, hard
};

// `ground_truth` is a revisitop gnd_<dataset>.pkl (or .json) file; ranks[q] lists database indices
// for query q, best first: all of them (a permutation of 0..database images - 1), or the top k of
// every query (then the images left out count as never retrieved: AP is the truncated list's).
RetrievalScores evaluate(const std::string& ground_truth,
                         const std::vector<std::vector<int64_t>>& ranks,
                         const std::vector<int64_t>& kappas = {1, 5, 10});

}  // namespace mda
