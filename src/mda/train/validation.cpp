#include "mda/train/validation.h"

#include "mda/asmk/asmk_ranking.h"
#include "mda/eval/evaluation_report.h"

namespace mda {

Value evaluation_summary(const Evaluation& evaluation) {
  Value out = Value::empty_dict();
  for (const ProtocolResult& p : evaluation.protocols) {
    out.set(protocol_name(p.protocol), p.applicable() ? Value(100.0 * p.map) : Value());
  }
  return out;
}

double medium_map(const Evaluation& evaluation) {
  for (const ProtocolResult& p : evaluation.protocols)
    if (p.protocol == Protocol::kMedium) return p.applicable() ? 100.0 * p.map : 0.0;
  return 0.0;
}

ValidationResult validate(MdaNetImpl& net, const RevisitedDataset& dataset,
                          const ValidationOptions& validation, ExtractionSettings settings,
                          int threads) {
  net.eval();
  settings.image_size = static_cast<int>(validation.image_size);
  settings.scales = validation.scales;
  settings.features_num = validation.features_num;
  settings.selection = validation.selection;
  const std::vector<ExtractionItem> db = revisited_items(dataset, "db");
  const std::vector<ExtractionItem> queries = revisited_items(dataset, "queries");
  // Local features of the database in both methods: what the heads select is measured either way.
  const std::vector<LocalFeatures> db_features = extract_local_features(net, db, settings);
  Ranking ranking;
  if (validation.method == "global") {
    const torch::Tensor d = extract_global_descriptors(net, db, settings);
    const torch::Tensor q = extract_global_descriptors(net, queries, settings);
    const torch::Tensor scores = torch::matmul(q, d.t()).contiguous();
    ranking = rank_by_scores(
        std::vector<float>(scores.data_ptr<float>(), scores.data_ptr<float>() + scores.numel()),
        q.size(0), d.size(0));
  } else {
    const std::vector<LocalFeatures> query_features =
        extract_local_features(net, queries, settings);
    AsmkEvaluationOptions asmk = validation.asmk;
    asmk.codebook.threads = asmk.search.threads = threads;
    ranking = asmk_full_ranking(db_features, query_features, asmk);
  }
  return {evaluate_revisited(ranking, dataset.gnd),
          measure_head_statistics(net, db, settings, db_features)};
}

}  // namespace mda
