#include "mda/eval/evaluation_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "mda/util/error.h"

namespace mda {

std::string format_evaluation_table(const Evaluation& evaluation) {
  std::string out = "protocol  queries     mAP";
  for (int64_t k : evaluation.kappas) {
    char head[24];
    std::snprintf(head, sizeof head, "%8s", cat("mP@", k).c_str());
    out += head;
  }
  out += "\n";
  for (const ProtocolResult& p : evaluation.protocols) {
    char row[64];
    std::snprintf(row, sizeof row, "%-8s  %7lld", protocol_name(p.protocol),
                  static_cast<long long>(p.evaluated_queries));
    out += row;
    if (!p.applicable()) {
      out += "     n/a  (no query has a positive under this protocol)\n";
      continue;
    }
    std::snprintf(row, sizeof row, "  %6.2f", 100.0 * p.map);
    out += row;
    for (double mp : p.mp_at_k) {
      std::snprintf(row, sizeof row, "  %6.2f", 100.0 * mp);
      out += row;
    }
    out += "\n";
  }
  return out;
}

Value evaluation_to_value(const Evaluation& evaluation) {
  Value all = Value::empty_dict();
  for (const ProtocolResult& p : evaluation.protocols) {
    Value entry = Value::empty_dict();
    entry.set("applicable", Value(p.applicable()));
    entry.set("queries", Value(p.evaluated_queries));
    entry.set("map", p.applicable() ? Value(p.map) : Value());
    for (size_t k = 0; k < evaluation.kappas.size(); ++k) {
      entry.set(cat("mp@", evaluation.kappas[k]), p.applicable() ? Value(p.mp_at_k[k]) : Value());
    }
    Value::List ap;
    for (double a : p.ap) ap.push_back(std::isnan(a) ? Value() : Value(a));
    entry.set("ap", Value(std::move(ap)));
    all.set(protocol_name(p.protocol), std::move(entry));
  }
  return all;
}

Ranking rank_by_scores(const std::vector<float>& scores, int64_t n_queries, int64_t n_db) {
  if (static_cast<int64_t>(scores.size()) != n_queries * n_db) {
    fail("score matrix has ", scores.size(), " values, expected ", n_queries, " x ", n_db);
  }
  Ranking ranking;
  ranking.n_db = n_db;
  ranking.n_queries = n_queries;
  ranking.ranks.resize(static_cast<size_t>(n_db * n_queries));
  std::vector<int64_t> order(static_cast<size_t>(n_db));
  for (int64_t q = 0; q < n_queries; ++q) {
    const float* row = &scores[static_cast<size_t>(q * n_db)];
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return row[a] > row[b]; });
    for (int64_t r = 0; r < n_db; ++r)
      ranking.ranks[static_cast<size_t>(r * n_queries + q)] = order[static_cast<size_t>(r)];
  }
  return ranking;
}

}  // namespace mda
