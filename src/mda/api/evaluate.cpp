// mda::evaluate (mda/evaluate.h): the revisitop protocol of eval/revisited_eval.h on rankings
// given per query.
#include "mda/evaluate.h"

#include "mda/data/revisited_dataset.h"
#include "mda/eval/revisited_eval.h"
#include "mda/io/json.h"
#include "mda/io/pickle.h"
#include "mda/util/error.h"
#include "mda/util/strings.h"

namespace mda {

RetrievalScores evaluate(const std::string& ground_truth,
                         const std::vector<std::vector<int64_t>>& ranks,
                         const std::vector<int64_t>& kappas) {
  const RevisitedDataset dataset =
      ends_with(ground_truth, ".json")
          ? revisited_dataset_from_value(read_json(ground_truth), ground_truth)
          : revisited_dataset_from_value(read_pickle(ground_truth), ground_truth);
  const int64_t n_db = static_cast<int64_t>(dataset.database.size());
  const int64_t n_q = static_cast<int64_t>(dataset.queries.size());
  if (static_cast<int64_t>(ranks.size()) != n_q)
    fail(ground_truth, ": ", n_q, " queries, but rankings for ", ranks.size());
  const int64_t depth = n_q > 0 ? static_cast<int64_t>(ranks[0].size()) : n_db;
  std::vector<int64_t> flat(static_cast<size_t>(depth * n_q));
  for (int64_t q = 0; q < n_q; ++q) {
    const std::vector<int64_t>& list = ranks[static_cast<size_t>(q)];
    if (static_cast<int64_t>(list.size()) != depth) {
      fail(ground_truth, ": query ", q, " ranks ", list.size(), " images, query 0 ranks ", depth,
           " (every query ranks the same number: all ", n_db, " database images, or a top k)");
    }
    for (int64_t r = 0; r < depth; ++r)
      flat[static_cast<size_t>(r * n_q + q)] = list[static_cast<size_t>(r)];
  }
  const Ranking ranking =
      ranking_from_array(NdArray::from_vector(flat, {depth, n_q}), n_db, n_q, "ranks");
  const Evaluation evaluation = evaluate_revisited(ranking, dataset.gnd, kappas);
  RetrievalScores scores;
  scores.kappas = evaluation.kappas;
  for (const ProtocolResult& p : evaluation.protocols) {
    ProtocolScores s;
    s.protocol = protocol_name(p.protocol);
    s.evaluated_queries = p.evaluated_queries;
    s.map = p.map;
    s.mp_at_k = p.mp_at_k;
    s.ap = p.ap;
    scores.protocols.push_back(std::move(s));
  }
  return scores;
}

}  // namespace mda
