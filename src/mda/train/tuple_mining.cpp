#include "mda/train/tuple_mining.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <unordered_set>

#include "mda/util/error.h"

namespace mda {

std::vector<std::pair<int64_t, int64_t>> draw_query_pairs(const std::vector<int>& labels,
                                                          int64_t qsize, SplitMix64& rng) {
  std::map<int, std::vector<int64_t>> members;
  for (size_t i = 0; i < labels.size(); ++i) members[labels[i]].push_back(static_cast<int64_t>(i));
  std::vector<int64_t> candidates;
  for (const auto& [label, images] : members) {
    if (images.size() > 1) candidates.insert(candidates.end(), images.begin(), images.end());
  }
  if (candidates.empty())
    fail("no label has two images: training needs (query, positive) pairs of the same label");
  std::sort(candidates.begin(), candidates.end());
  std::vector<std::pair<int64_t, int64_t>> pairs;
  pairs.reserve(static_cast<size_t>(std::max<int64_t>(qsize, 0)));
  for (int64_t i = 0; i < qsize; ++i) {
    const int64_t query = candidates[rng.below(candidates.size())];
    const std::vector<int64_t>& group = members[labels[static_cast<size_t>(query)]];
    int64_t positive = query;
    while (positive == query) positive = group[rng.below(group.size())];
    pairs.emplace_back(query, positive);
  }
  return pairs;
}

std::vector<int64_t> draw_negative_pool(int64_t images, int64_t poolsize, SplitMix64& rng) {
  std::vector<int64_t> all(static_cast<size_t>(images));
  std::iota(all.begin(), all.end(), 0);
  // Partial Fisher-Yates: the first `take` entries are a uniform sample without replacement.
  const int64_t take = std::min(images, std::max<int64_t>(poolsize, 0));
  for (int64_t i = 0; i < take; ++i) {
    const int64_t j = i + static_cast<int64_t>(rng.below(static_cast<uint64_t>(images - i)));
    std::swap(all[static_cast<size_t>(i)], all[static_cast<size_t>(j)]);
  }
  all.resize(static_cast<size_t>(take));
  return all;
}

MinedNegatives mine_hard_negatives(const std::vector<float>& queries,
                                   const std::vector<int64_t>& query_images,
                                   const std::vector<float>& pool,
                                   const std::vector<int64_t>& pool_images, int64_t dim,
                                   const std::vector<int>& labels, int64_t nnum) {
  const size_t q = query_images.size(), p = pool_images.size();
  if (queries.size() != q * static_cast<size_t>(dim) || pool.size() != p * static_cast<size_t>(dim))
    fail("mine_hard_negatives: descriptor arrays do not match ", q, " queries and ", p,
         " pool images of dimension ", dim);
  const auto label_of = [&](int64_t image) {
    if (image < 0 || static_cast<size_t>(image) >= labels.size())
      fail("mine_hard_negatives: image index ", image, " outside the ", labels.size(), " labels");
    return labels[static_cast<size_t>(image)];
  };
  MinedNegatives out;
  out.negatives.resize(q);
  double distance_sum = 0;
  int64_t distance_count = 0;
  std::vector<float> similarity(p);
  std::vector<size_t> order(p);
  for (size_t i = 0; i < q; ++i) {
    const float* a = queries.data() + i * static_cast<size_t>(dim);
    for (size_t j = 0; j < p; ++j) {
      const float* b = pool.data() + j * static_cast<size_t>(dim);
      float dot = 0;
      for (int64_t k = 0; k < dim; ++k) dot += a[k] * b[k];
      similarity[j] = dot;
    }
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t x, size_t y) { return similarity[x] > similarity[y]; });
    const int query_label = label_of(query_images[i]);
    std::unordered_set<int> taken;
    for (size_t j : order) {
      if (static_cast<int64_t>(out.negatives[i].size()) >= nnum) break;
      const int label = label_of(pool_images[j]);
      if (label == query_label || taken.count(label)) continue;
      taken.insert(label);
      out.negatives[i].push_back(pool_images[j]);
      const float* b = pool.data() + j * static_cast<size_t>(dim);
      double d2 = 0;
      for (int64_t k = 0; k < dim; ++k) d2 += (a[k] - b[k]) * static_cast<double>(a[k] - b[k]);
      distance_sum += std::sqrt(d2);
      ++distance_count;
    }
    if (static_cast<int64_t>(out.negatives[i].size()) < nnum) ++out.short_queries;
  }
  out.mean_distance = distance_count ? distance_sum / static_cast<double>(distance_count) : 0.0;
  return out;
}

}  // namespace mda
