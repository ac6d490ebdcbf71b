// Presenting an evaluation: the printed table and the JSON written beside the ranking.
#pragma once

#include <string>

#include "mda/eval/revisited_eval.h"
#include "mda/io/value.h"

namespace mda {

// Percentages with two decimals, as revisitop prints them; "n/a" for a protocol without positives.
std::string format_evaluation_table(const Evaluation& evaluation);
// {"easy": {"map":…, "mp@1":…, "queries":…, "applicable":…, "ap": [...]}, …}; values in [0, 1],
// null where not applicable.
Value evaluation_to_value(const Evaluation& evaluation);

// Ranks database items for each query by descending score; ties go to the lower database index.
// `scores` is n_queries x n_db, row-major.
Ranking rank_by_scores(const std::vector<float>& scores, int64_t n_queries, int64_t n_db);

}  // namespace mda
