// The scoring kernel of the inverted file: per query word, its postings are scanned and each
// entry's thresholded, powered similarity accumulated into its image's score (Eq. 11).
#include <cmath>
#include <cstring>

#include "mda/asmk/inverted_file.h"
#include "mda/util/error.h"

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
    const uint64_t count = offsets_view_[w + 1] - offsets_view_[w];
    // idf = log(images / postings)^2; a word without postings never contributes.
    const double idf =
        count ? std::pow(std::log(static_cast<double>(indexed) / static_cast<double>(count)), 2)
              : 0.0;
    c.idf[static_cast<size_t>(w)] = static_cast<float>(idf);
    for (uint64_t e = offsets_view_[w]; e < offsets_view_[w + 1]; ++e) norms[ids_view_[e]] += idf;
  }
  for (int64_t id = 0; id < images(); ++id) {
    const double n = norms[static_cast<size_t>(id)];
    c.image_scale[static_cast<size_t>(id)] = n > 0 ? static_cast<float>(1.0 / std::sqrt(n)) : 0.0f;
  }
  return c;
}

std::vector<float> InvertedFile::scores(const AggregatedImage& query, const SearchOptions& params,
                                        const SearchContext& context) const {
  check_compatible(query, "query");
  if (!pending_.empty()) fail("internal: search on an index with images not finalized");
  std::vector<float> accumulated(static_cast<size_t>(images()), 0.0f);
  const auto selectivity = [&](double s) {
    return s >= params.similarity_threshold ? std::pow(s, params.alpha) : 0.0;
  };
  double query_norm = 0;
  const int64_t bits = dim_;
  // sigma(1 - 2h/B) for every Hamming distance h, so the scan is a lookup.
  std::vector<float> by_distance(static_cast<size_t>(bits + 1));
  for (int64_t h = 0; h <= bits; ++h)
    by_distance[static_cast<size_t>(h)] = static_cast<float>(selectivity(1.0 - 2.0 * h / bits));
  std::vector<float> weighted(by_distance.size());  // idf x selectivity, per query word
  const size_t bytes = static_cast<size_t>(entry_bytes());
  for (int64_t i = 0; i < query.count(); ++i) {
    const int32_t w = query.words[static_cast<size_t>(i)];
    if (w < 0 || w >= words_) fail("query word ", w, " outside the index's ", words_, " words");
    const float idf = context.idf[static_cast<size_t>(w)];
    query_norm += idf;
    const uint64_t begin = offsets_view_[w], end = offsets_view_[w + 1];
    if (begin == end || idf == 0.0f) continue;
    const uint32_t* ids = ids_view_;
    if (binary_) {
      const uint8_t* q = &query.codes[static_cast<size_t>(i) * bytes];
      if (bytes == 16) {
        for (int64_t h = 0; h <= bits; ++h)
          weighted[static_cast<size_t>(h)] = idf * by_distance[static_cast<size_t>(h)];
        if (kHavePopcnt) {
          scan_128_popcnt(q, ids, codes_view_, begin, end, weighted.data(), accumulated.data());
        } else {
          scan_128_portable(q, ids, codes_view_, begin, end, weighted.data(), accumulated.data());
        }
      } else {
        for (uint64_t e = begin; e < end; ++e) {
          const uint8_t* d = codes_view_ + e * bytes;
          int h = 0;
          for (size_t b = 0; b < bytes; ++b)
            h += __builtin_popcount(static_cast<unsigned>(q[b] ^ d[b]));
          accumulated[ids[e]] += idf * by_distance[static_cast<size_t>(h)];
        }
      }
    } else {
      const float* q = &query.vectors[static_cast<size_t>(i * dim_)];
      for (uint64_t e = begin; e < end; ++e) {
        const float* d = reinterpret_cast<const float*>(codes_view_ + e * bytes);
        double s = 0;
        for (int64_t t = 0; t < dim_; ++t) s += static_cast<double>(q[t]) * d[t];
        accumulated[ids[e]] += static_cast<float>(idf * selectivity(s));
      }
    }
  }
  const float query_scale = query_norm > 0 ? static_cast<float>(1.0 / std::sqrt(query_norm)) : 0.0f;
  for (int64_t id = 0; id < images(); ++id) {
    accumulated[static_cast<size_t>(id)] *=
        context.image_scale[static_cast<size_t>(id)] * query_scale;
  }
  return accumulated;
}

}  // namespace mda
