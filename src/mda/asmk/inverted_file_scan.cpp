// The scoring kernel of the inverted file: per query word, its postings are scanned and each
// entry's thresholded, powered similarity accumulated into its image's score (Eq. 11).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "mda/asmk/inverted_file.h"
#include "mda/util/error.h"
#include "mda/util/run_on_threads.h"

namespace mda {
namespace {

// The hot loop of the search: Hamming distances of 128-bit codes, each turned into its weighted
// selectivity by a table lookup and accumulated per image. Compiled for the POPCNT instruction
// (every x86-64 CPU since 2008) with a portable twin for the others.
inline __attribute__((always_inline)) void scan_128(const uint8_t* query, const uint32_t* ids,
                                                    const uint8_t* codes, uint64_t begin,
                                                    uint64_t end, const float* weighted,
                                                    float* accumulated) {
  uint64_t q0, q1;
  std::memcpy(&q0, query, 8);
  std::memcpy(&q1, query + 8, 8);
  codes += begin * 16;
  for (uint64_t e = begin; e < end; ++e, codes += 16) {
    uint64_t d0, d1;
    std::memcpy(&d0, codes, 8);
    std::memcpy(&d1, codes + 8, 8);
    accumulated[ids[e]] += weighted[__builtin_popcountll(q0 ^ d0) + __builtin_popcountll(q1 ^ d1)];
  }
}

void scan_128_portable(const uint8_t* query, const uint32_t* ids, const uint8_t* codes,
                       uint64_t begin, uint64_t end, const float* weighted, float* accumulated) {
  scan_128(query, ids, codes, begin, end, weighted, accumulated);
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("popcnt"))) void scan_128_popcnt(const uint8_t* query, const uint32_t* ids,
                                                       const uint8_t* codes, uint64_t begin,
                                                       uint64_t end, const float* weighted,
                                                       float* accumulated) {
  scan_128(query, ids, codes, begin, end, weighted, accumulated);
}
const bool kHavePopcnt = __builtin_cpu_supports("popcnt");
#else
void scan_128_popcnt(const uint8_t* query, const uint32_t* ids, const uint8_t* codes,
                     uint64_t begin, uint64_t end, const float* weighted, float* accumulated) {
  scan_128(query, ids, codes, begin, end, weighted, accumulated);
}
const bool kHavePopcnt = true;
#endif

// The first position in ids[begin, end) (sorted) whose id is at least `value`. Ids are spread
// about evenly over 0..images, so the search starts where `value` would sit and gallops from
// there, touching a line or two of the list near the answer (which the scan reads next) where a
// binary search would touch a dozen spread over it.
uint64_t first_id_at_least(const uint32_t* ids, uint64_t begin, uint64_t end, uint32_t value,
                           uint32_t images) {
  if (begin == end) return end;
  uint64_t at = begin + static_cast<uint64_t>(static_cast<double>(end - begin) * value /
                                              std::max<uint32_t>(images, 1));
  at = std::min(at, end - 1);
  uint64_t low, high;  // ids[low - 1] < value <= ids[high] (with begin - 1 and end as sentinels)
  if (ids[at] < value) {
    uint64_t step = 1;
    low = at + 1;
    while (low + step - 1 < end && ids[low + step - 1] < value) {
      low += step;
      step *= 2;
    }
    high = std::min(low + step - 1, end);
  } else {
    uint64_t step = 1;
    high = at;
    while (high >= begin + step && ids[high - step] >= value) {
      high -= step;
      step *= 2;
    }
    low = high >= begin + step ? high - step + 1 : begin;
  }
  return static_cast<uint64_t>(std::lower_bound(ids + low, ids + high, value) - ids);
}

}  // namespace

SearchContext InvertedFile::context(const SearchOptions& params) const {
  if (!pending_.empty()) fail("internal: search on an index with images not finalized");
  SearchContext c;
  c.idf.assign(static_cast<size_t>(words_), 1.0f);
  c.image_scale.assign(static_cast<size_t>(images()), 0.0f);
  if (!params.use_idf) {
    for (int64_t id = 0; id < images(); ++id) {
      const uint32_t n = image_words_[static_cast<size_t>(id)];
      c.image_scale[static_cast<size_t>(id)] =
          n ? static_cast<float>(1.0 / std::sqrt(static_cast<double>(n))) : 0.0f;
    }
    return c;
  }
  int64_t indexed = 0;
  for (uint32_t n : image_words_) indexed += n > 0;
  std::vector<double> norms(static_cast<size_t>(images()), 0.0);
  for (int64_t w = 0; w < words_; ++w) {
    const uint64_t count = word_entries(w);
    // idf = log(images / postings)^2; a word without postings never contributes.
    const double idf =
        count ? std::pow(std::log(static_cast<double>(indexed) / static_cast<double>(count)), 2)
              : 0.0;
    c.idf[static_cast<size_t>(w)] = static_cast<float>(idf);
    for (const Span& span : {compact_span(w), tail_span(w)})
      for (uint64_t e = span.begin; e < span.end; ++e) norms[span.ids[e]] += idf;
  }
  for (int64_t id = 0; id < images(); ++id) {
    const double n = norms[static_cast<size_t>(id)];
    c.image_scale[static_cast<size_t>(id)] = n > 0 ? static_cast<float>(1.0 / std::sqrt(n)) : 0.0f;
  }
  return c;
}

std::vector<float> InvertedFile::scores(const AggregatedImage& query, const SearchOptions& params,
                                        const SearchContext& context, int threads) const {
  return std::move(scores({&query}, params, context, threads)[0]);
}

std::vector<std::vector<float>> InvertedFile::scores(
    const std::vector<const AggregatedImage*>& queries, const SearchOptions& params,
    const SearchContext& context, int threads) const {
  if (!pending_.empty()) fail("internal: search on an index with images not finalized");
  const auto selectivity = [&](double s) {
    return s >= params.similarity_threshold ? std::pow(s, params.alpha) : 0.0;
  };
  const int64_t bits = dim_;
  // sigma(1 - 2h/B) for every Hamming distance h, so the scan is a lookup.
  std::vector<float> by_distance(static_cast<size_t>(bits + 1));
  for (int64_t h = 0; h <= bits; ++h)
    by_distance[static_cast<size_t>(h)] = static_cast<float>(selectivity(1.0 - 2.0 * h / bits));

  // Every (query, word) to scan, checked before any scanning starts, ordered by word: a word's
  // postings are read once from memory for all the queries that hold it (they stay in cache from
  // one query to the next), and each query still adds its words in its own ascending order.
  struct WordScan {
    int32_t word;
    uint32_t query;
    int64_t query_row;
  };
  std::vector<WordScan> word_scans;
  std::vector<double> query_norms(queries.size(), 0.0);
  uint64_t entries = 0;
  for (size_t q = 0; q < queries.size(); ++q) {
    const AggregatedImage& query = *queries[q];
    check_compatible(query, "query");
    for (int64_t i = 0; i < query.count(); ++i) {
      const int32_t w = query.words[static_cast<size_t>(i)];
      if (w < 0 || w >= words_) fail("query word ", w, " outside the index's ", words_, " words");
      if (i > 0 && w <= query.words[static_cast<size_t>(i - 1)])
        fail("internal: query words not ascending (", w, " after ",
             query.words[static_cast<size_t>(i - 1)], ")");
      const float idf = context.idf[static_cast<size_t>(w)];
      query_norms[q] += idf;
      const uint64_t count = word_entries(w);
      if (count == 0 || idf == 0.0f) continue;
      word_scans.push_back({w, static_cast<uint32_t>(q), i});
      entries += count;
    }
  }
  std::stable_sort(word_scans.begin(), word_scans.end(),
                   [](const WordScan& a, const WordScan& b) { return a.word < b.word; });

  const uint32_t n_images = static_cast<uint32_t>(images());
  std::vector<std::vector<float>> accumulated(queries.size(),
                                              std::vector<float>(static_cast<size_t>(images())));
  const size_t bytes = static_cast<size_t>(entry_bytes());
  // Scores the images lo <= id < hi; postings are sorted by id, so each word's part of the range
  // is found by search in each of its two parts (skipped when one worker takes every image). An
  // image's entries all lie in one part, so its score is the same sum in the same order whether
  // or not the tail has been compacted.
  const auto scan_images = [&](uint32_t lo, uint32_t hi, bool whole) {
    std::vector<float> weighted(by_distance.size());  // idf x selectivity, per word
    int32_t word = -1;
    Span parts[2] = {};
    for (const WordScan& s : word_scans) {
      if (s.word != word) {  // the word's postings in [lo, hi) and its weights, once per word
        word = s.word;
        parts[0] = compact_span(word);
        parts[1] = tail_span(word);
        if (!whole) {
          for (Span& span : parts) {
            const uint64_t b = first_id_at_least(span.ids, span.begin, span.end, lo, n_images);
            span.end = first_id_at_least(span.ids, b, span.end, hi, n_images);
            span.begin = b;
          }
        }
        const float idf = context.idf[static_cast<size_t>(word)];
        for (size_t h = 0; h < weighted.size(); ++h) weighted[h] = idf * by_distance[h];
      }
      const AggregatedImage& query = *queries[s.query];
      float* scores = accumulated[s.query].data();
      const size_t row = static_cast<size_t>(s.query_row);
      for (const Span& span : parts) {
        if (span.begin == span.end) continue;
        const uint32_t* ids = span.ids;
        const uint64_t begin = span.begin, end = span.end;
        if (binary_) {
          const uint8_t* q = &query.codes[row * bytes];
          if (bytes == 16) {
            if (kHavePopcnt) {
              scan_128_popcnt(q, ids, span.codes, begin, end, weighted.data(), scores);
            } else {
              scan_128_portable(q, ids, span.codes, begin, end, weighted.data(), scores);
            }
          } else {
            for (uint64_t e = begin; e < end; ++e) {
              const uint8_t* d = span.codes + e * bytes;
              int h = 0;
              for (size_t b = 0; b < bytes; ++b)
                h += __builtin_popcount(static_cast<unsigned>(q[b] ^ d[b]));
              scores[ids[e]] += weighted[static_cast<size_t>(h)];
            }
          }
        } else {
          const float* q = &query.vectors[row * static_cast<size_t>(dim_)];
          const float idf = context.idf[static_cast<size_t>(word)];
          for (uint64_t e = begin; e < end; ++e) {
            const float* d = reinterpret_cast<const float*>(span.codes + e * bytes);
            double sum = 0;
            for (int64_t t = 0; t < dim_; ++t) sum += static_cast<double>(q[t]) * d[t];
            scores[ids[e]] += static_cast<float>(idf * selectivity(sum));
          }
        }
      }
    }
  };
  // A thread earns its start-up (tens of microseconds) only over enough entries.
  constexpr uint64_t kMinEntriesPerWorker = 65536;
  const int64_t workers = std::min<int64_t>(
      {std::max(1, threads), static_cast<int64_t>(entries / kMinEntriesPerWorker), images()});
  if (workers <= 1) {
    scan_images(0, n_images, true);
  } else {
    run_on_threads(static_cast<int>(workers), [&](int w) {
      const auto bound = [&](int64_t k) {
        return static_cast<uint32_t>(static_cast<uint64_t>(n_images) * static_cast<uint64_t>(k) /
                                     static_cast<uint64_t>(workers));
      };
      scan_images(bound(w), bound(w + 1), false);
    });
  }
  for (size_t q = 0; q < queries.size(); ++q) {
    const float query_scale =
        query_norms[q] > 0 ? static_cast<float>(1.0 / std::sqrt(query_norms[q])) : 0.0f;
    std::vector<float>& scores = accumulated[q];
    for (int64_t id = 0; id < images(); ++id)
      scores[static_cast<size_t>(id)] *= context.image_scale[static_cast<size_t>(id)] * query_scale;
  }
  return accumulated;
}

}  // namespace mda
