#include "mda/report/report_queries.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "mda/image/codec.h"
#include "mda/image/transform.h"
#include "mda/util/error.h"

namespace mda {
namespace {

Image thumbnail(const Image& image, int height) {
  if (image.empty()) return image;
  const int width = std::max(
      1, static_cast<int>(std::lround(static_cast<double>(image.width) * height / image.height)));
  return image.height > height ? resize(image, width, height) : image;
}

}  // namespace

std::vector<ReportQuery> report_queries(const RevisitedDataset& dataset, const Ranking& ranking,
                                        int64_t max_queries, int64_t topk, int height) {
  if (ranking.n_queries != static_cast<int64_t>(dataset.queries.size()) ||
      ranking.n_db != static_cast<int64_t>(dataset.database.size())) {
    fail("the ranking (", ranking.n_db, " x ", ranking.n_queries, ") does not fit ", dataset.name,
         " (", dataset.database.size(), " database images, ", dataset.queries.size(), " queries)");
  }
  const ProtocolResult medium = evaluate_protocol(ranking, dataset.gnd, Protocol::kMedium, {1});
  std::vector<ReportQuery> rows;
  // A database image often ranks high for several queries: decode and shrink it once.
  std::map<int64_t, Image> thumbnails;
  const auto database_thumbnail = [&](int64_t index) -> const Image& {
    auto it = thumbnails.find(index);
    if (it == thumbnails.end()) {
      const Image full = read_image(dataset.database_path(static_cast<size_t>(index)));
      it = thumbnails.emplace(index, thumbnail(full, height)).first;
    }
    return it->second;
  };
  const int64_t n = std::min<int64_t>(max_queries, ranking.n_queries);
  for (int64_t q = 0; q < n; ++q) {
    const QueryGroundTruth& gnd = dataset.gnd[static_cast<size_t>(q)];
    std::set<int64_t> positives(gnd.easy.begin(), gnd.easy.end());
    positives.insert(gnd.hard.begin(), gnd.hard.end());
    const std::set<int64_t> junk(gnd.junk.begin(), gnd.junk.end());
    ReportQuery row;
    row.name = dataset.queries[static_cast<size_t>(q)];
    Image query = read_image(dataset.query_path(static_cast<size_t>(q)));
    if (gnd.has_bbx) query = crop(query, gnd.bbx);
    row.thumbnail = thumbnail(query, height);
    const double ap = medium.ap.empty() ? NAN : medium.ap[static_cast<size_t>(q)];
    row.average_precision = std::isnan(ap) ? -1 : ap;
    for (int64_t r = 0; r < std::min(topk, ranking.ranked()); ++r) {
      const int64_t index = ranking.at(r, q);
      ReportResult result;
      result.name = dataset.database[static_cast<size_t>(index)];
      result.thumbnail = database_thumbnail(index);
      result.kind = positives.count(index) ? ResultKind::kPositive
                    : junk.count(index)    ? ResultKind::kJunk
                                           : ResultKind::kNegative;
      row.results.push_back(std::move(result));
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace mda
