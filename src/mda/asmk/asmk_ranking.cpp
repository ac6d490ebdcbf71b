#include "mda/asmk/asmk_ranking.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>

#include "mda/asmk/codebook.h"
#include "mda/asmk/kmeans.h"
#include "mda/util/error.h"
#include "mda/util/log.h"
#include "mda/util/run_on_threads.h"

namespace mda {

namespace {

// Sorting keys of (score, image) pairs that order them as the ranking does, higher score first
// and ties to the lower image, as plain integers: a positive float's bits rise with its value
// and a negative one's with its magnitude, so the keys sort without reading the scores again
// (an indirect comparison per step took several times longer).
inline uint64_t positive_key(float score, int64_t image) {
  uint32_t bits;
  std::memcpy(&bits, &score, sizeof bits);
  return static_cast<uint64_t>(~bits) << 32 | static_cast<uint64_t>(image);
}
inline uint64_t negative_key(float score, int64_t image) {
  uint32_t bits;
  std::memcpy(&bits, &score, sizeof bits);
  return static_cast<uint64_t>(bits & 0x7fffffffu) << 32 | static_cast<uint64_t>(image);
}

// Sorts keys by their high 32 bits, stably: keys made in ascending image order end in the order of
// sorting the whole keys (ties to the lower image). Four counting passes over 8-bit digits:
// std::sort's comparisons were half of a full ranking's time at 1,864 images.
void sort_by_high_bits(std::vector<uint64_t>& keys, std::vector<uint64_t>& buffer) {
  if (keys.empty()) return;
  buffer.resize(keys.size());
  for (int shift = 32; shift < 64; shift += 8) {
    size_t count[257] = {};
    for (uint64_t key : keys) ++count[((key >> shift) & 0xff) + 1];
    if (count[1 + ((keys.front() >> shift) & 0xff)] == keys.size()) continue;  // one digit
    for (int b = 0; b < 256; ++b) count[b + 1] += count[b];
    for (uint64_t key : keys) buffer[count[(key >> shift) & 0xff]++] = key;
    keys.swap(buffer);
  }
}

// The `topk` best images of one query's scores, best first, ties to the lower index, into
// `order`. Only the images the scan reached have a non-zero score (a few percent of a large
// index), so those are sorted and the zero-score rest follows in index order, before any
// negative score (tau < 0 with an odd alpha): the same order as sorting every image.
void best_images(const std::vector<float>& s, int64_t topk, std::vector<int64_t>& order,
                 std::vector<uint64_t>& positive, std::vector<uint64_t>& negative,
                 std::vector<uint64_t>& buffer) {
  constexpr size_t kFewKeys = 64;  // below this, std::sort
  const auto sort_best = [&](std::vector<uint64_t>& keys, int64_t keep) {
    if (static_cast<int64_t>(keys.size()) > keep) {
      std::nth_element(keys.begin(), keys.begin() + keep, keys.end());
      keys.resize(static_cast<size_t>(keep));
      std::sort(keys.begin(), keys.end());
    } else if (keys.size() < kFewKeys) {
      std::sort(keys.begin(), keys.end());
    } else {
      sort_by_high_bits(keys, buffer);  // still in image order: the keys as made
    }
  };
  const int64_t n = static_cast<int64_t>(s.size());
  if (n > int64_t{1} << 32) fail("internal: ", n, " images do not fit the ranking's keys");
  positive.clear();
  negative.clear();
  for (int64_t id = 0; id < n; ++id) {
    const float v = s[static_cast<size_t>(id)];
    if (v > 0) positive.push_back(positive_key(v, id));
    if (v < 0) negative.push_back(negative_key(v, id));
  }
  sort_best(positive, topk);
  order.clear();
  for (uint64_t key : positive) order.push_back(static_cast<int64_t>(key & 0xffffffffu));
  for (int64_t id = 0; id < n && static_cast<int64_t>(order.size()) < topk; ++id)
    if (s[static_cast<size_t>(id)] == 0) order.push_back(id);
  if (static_cast<int64_t>(order.size()) < topk) {
    sort_best(negative, topk - static_cast<int64_t>(order.size()));
    for (uint64_t key : negative) order.push_back(static_cast<int64_t>(key & 0xffffffffu));
  }
}

}  // namespace

int64_t queries_per_scan(int64_t images) {
  constexpr int64_t kScoreBytes = int64_t{1} << 20, kMostQueries = 8;
  return std::clamp<int64_t>(kScoreBytes / (4 * std::max<int64_t>(images, 1)), 1, kMostQueries);
}

SearchRanking rank_queries(const InvertedFile& ivf, const std::vector<AggregatedImage>& queries,
                           const SearchOptions& params, int64_t topk, int threads,
                           const ProgressCallback& progress, const SearchContext* context) {
  const int64_t n_db = ivf.images(), n_q = static_cast<int64_t>(queries.size());
  if (topk < 1) fail("topk must be positive, found ", topk);
  SearchRanking out;
  out.topk = std::min(topk, n_db);
  out.queries = n_q;
  out.images.resize(static_cast<size_t>(out.topk * n_q));
  out.scores.resize(static_cast<size_t>(out.topk * n_q));
  SearchContext computed;
  if (!context) {
    computed = ivf.context(params);
    context = &computed;
  }
  // Queries are scored in groups of up to queries_per_scan(), each group in one pass over the
  // postings (a word's postings read from memory once for the whole group); groups run in
  // parallel, and the threads left over when there are fewer groups than threads (one query from
  // a service) split each group's scan by image ranges.
  const int64_t per_scan = queries_per_scan(n_db);
  const int64_t groups = (n_q + per_scan - 1) / per_scan;
  const int64_t group_workers = std::max<int64_t>(1, std::min<int64_t>(threads, groups));
  const int scan_threads = static_cast<int>(std::max<int64_t>(1, threads / group_workers));
  std::atomic<int64_t> next{0};
  std::mutex progress_mutex;
  int64_t done = 0;
  run_on_threads(static_cast<int>(group_workers), [&](int) {
    std::vector<int64_t> order;
    std::vector<uint64_t> positive, negative, buffer;
    std::vector<const AggregatedImage*> group;
    for (int64_t g = next++; g < groups; g = next++) {
      const int64_t first = g * per_scan, end = std::min(n_q, first + per_scan);
      group.clear();
      for (int64_t q = first; q < end; ++q) group.push_back(&queries[static_cast<size_t>(q)]);
      const std::vector<std::vector<float>> scores =
          ivf.scores(group, params, *context, scan_threads);
      for (int64_t q = first; q < end; ++q) {
        const std::vector<float>& s = scores[static_cast<size_t>(q - first)];
        best_images(s, out.topk, order, positive, negative, buffer);
        const size_t first_rank = static_cast<size_t>(q * out.topk);
        for (int64_t r = 0; r < out.topk; ++r) {
          const int64_t image = order[static_cast<size_t>(r)];
          out.images[first_rank + static_cast<size_t>(r)] = image;
          out.scores[first_rank + static_cast<size_t>(r)] = s[static_cast<size_t>(image)];
        }
      }
      if (progress) {
        const std::lock_guard<std::mutex> lock(progress_mutex);
        done += end - first;
        progress(done, n_q);
      }
    }
  });
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
  std::vector<DescriptorRange> ranges;
  for (const LocalFeatures& f : database)
    ranges.push_back({f.descriptors.data(), f.count(), f.dim});
  const std::vector<AggregatedImage> encoded_database =
      encode_images(codebook, ranges, options.index.multiple_assignment, binary, threads,
                    [](size_t i) { return "database image " + std::to_string(i); });
  for (size_t i = 0; i < encoded_database.size(); ++i)
    ivf.add(static_cast<int64_t>(i), encoded_database[i]);
  ivf.finalize();
  std::vector<AggregatedImage> encoded;
  for (size_t q = 0; q < queries.size(); ++q) {
    encoded.push_back(encode_features(codebook, queries[q].descriptors.data(), queries[q].count(),
                                      queries[q].dim, options.search.multiple_assignment, binary,
                                      threads, "query " + std::to_string(q)));
  }
  const SearchRanking lists = rank_queries(ivf, encoded, options.search, ivf.images(), threads);
  Ranking ranking;  // revisitop's orientation: rank-major
  ranking.n_db = lists.topk;
  ranking.n_queries = lists.queries;
  ranking.ranks.resize(lists.images.size());
  for (int64_t r = 0; r < lists.topk; ++r)
    for (int64_t q = 0; q < lists.queries; ++q)
      ranking.ranks[static_cast<size_t>(r * lists.queries + q)] =
          lists.images[static_cast<size_t>(q * lists.topk + r)];
  return ranking;
}

}  // namespace mda
