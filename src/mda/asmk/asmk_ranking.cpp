#include "mda/asmk/asmk_ranking.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <numeric>
#include <thread>

#include "mda/asmk/codebook.h"
#include "mda/asmk/kmeans.h"
#include "mda/util/error.h"
#include "mda/util/log.h"

namespace mda {

RankedLists rank_queries(const InvertedFile& ivf, const std::vector<AggregatedImage>& queries,
                         const SearchOptions& params, int64_t topk, int threads,
                         const ProgressCallback& progress) {
  const int64_t n_db = ivf.images(), n_q = static_cast<int64_t>(queries.size());
  if (topk < 1) fail("topk must be positive, found ", topk);
  RankedLists out;
  out.topk = std::min(topk, n_db);
  out.queries = n_q;
  out.ranks.resize(static_cast<size_t>(out.topk * n_q));
  out.scores.resize(static_cast<size_t>(out.topk * n_q));
  const SearchContext context = ivf.context(params);
  std::atomic<int64_t> next{0};
  std::mutex progress_mutex;
  int64_t done = 0;
  const auto work = [&] {
    std::vector<int64_t> order(static_cast<size_t>(n_db));
    for (int64_t q = next++; q < n_q; q = next++) {
      const std::vector<float> s = ivf.scores(queries[static_cast<size_t>(q)], params, context);
      std::iota(order.begin(), order.end(), 0);
      const auto better = [&](int64_t a, int64_t b) {
        return s[static_cast<size_t>(a)] > s[static_cast<size_t>(b)] ||
               (s[static_cast<size_t>(a)] == s[static_cast<size_t>(b)] && a < b);
      };
      std::partial_sort(order.begin(), order.begin() + out.topk, order.end(), better);
      for (int64_t r = 0; r < out.topk; ++r) {
        const int64_t image = order[static_cast<size_t>(r)];
        out.ranks[static_cast<size_t>(r * n_q + q)] = image;
        out.scores[static_cast<size_t>(r * n_q + q)] = s[static_cast<size_t>(image)];
      }
      if (progress) {
        const std::lock_guard<std::mutex> lock(progress_mutex);
        progress(++done, n_q);
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < std::max(1, threads); ++t) pool.emplace_back(work);
  for (auto& t : pool) t.join();
  return out;
}

Ranking asmk_full_ranking(const std::vector<LocalFeatures>& database,
                          const std::vector<LocalFeatures>& queries,
                          const AsmkEvaluationOptions& options,
                          const std::vector<LocalFeatures>* codebook_features) {
  if (database.empty()) fail("ASMK evaluation needs database images");
  const int64_t dim = database[0].dim;
  std::vector<float> training;
  for (const LocalFeatures& f : codebook_features ? *codebook_features : database) {
    if (f.dim != dim && f.count() > 0)
      fail("ASMK evaluation: codebook descriptors of dimension ", f.dim, " and ", dim);
    training.insert(training.end(), f.descriptors.begin(), f.descriptors.end());
  }
  const int64_t n = static_cast<int64_t>(training.size()) / std::max<int64_t>(dim, 1);
  if (n < 1) fail("ASMK evaluation: no descriptors to train the codebook on");
  KMeansOptions kmeans = options.codebook;
  kmeans.k = std::min(options.codebook.k, n);
  if (kmeans.k < options.codebook.k)
    log_warning("codebook of ", kmeans.k, " words only: there are ", n, " training descriptors");
  const Codebook codebook = Codebook::train(training.data(), n, dim, kmeans);

  const bool binary = options.index.binary;
  const int threads = options.search.threads;
  InvertedFile ivf(codebook.k, dim, binary, codebook.fingerprint);
  for (size_t i = 0; i < database.size(); ++i) {
    ivf.add(static_cast<int64_t>(i),
            encode_features(codebook, database[i].descriptors.data(), database[i].count(),
                            database[i].dim, options.index.multiple_assignment, binary, threads,
                            "database image " + std::to_string(i)));
  }
  ivf.finalize();
  std::vector<AggregatedImage> encoded;
  for (size_t q = 0; q < queries.size(); ++q) {
    encoded.push_back(encode_features(codebook, queries[q].descriptors.data(), queries[q].count(),
                                      queries[q].dim, options.search.multiple_assignment, binary,
                                      threads, "query " + std::to_string(q)));
  }
  RankedLists lists = rank_queries(ivf, encoded, options.search, ivf.images(), threads);
  Ranking ranking;
  ranking.n_db = lists.topk;
  ranking.n_queries = lists.queries;
  ranking.ranks = std::move(lists.ranks);
  return ranking;
}

}  // namespace mda
