// The per-query rows of the report: each query (cropped to its box) and its top results as
// thumbnails, marked positive / junk / negative by the Medium protocol.
#pragma once

#include <cstdint>
#include <vector>

#include "mda/data/revisited_dataset.h"
#include "mda/eval/revisited_eval.h"
#include "mda/report/html_report.h"

namespace mda {

// The first `max_queries` queries with their `topk` best results; thumbnails `height` pixels high.
std::vector<ReportQuery> report_queries(const RevisitedDataset& dataset, const Ranking& ranking,
                                        int64_t max_queries, int64_t topk, int height = 96);

}  // namespace mda
