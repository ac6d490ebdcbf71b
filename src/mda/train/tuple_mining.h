// Training tuples from image-level labels (method.md 4.2, cirtorch's TuplesDataset): each epoch
// draws (query, positive) pairs of the same label and a random negative pool; the hard negatives
// of a query are the pool images most similar to it under the current network, at most one per
// label and never of the query's label.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "mda/util/random.h"

namespace mda {

// `qsize` pairs: the query uniform over the images whose label has another image, the positive
// uniform over the other images of that label. No such image is an error.
std::vector<std::pair<int64_t, int64_t>> draw_query_pairs(const std::vector<int>& labels,
                                                          int64_t qsize, SplitMix64& rng);

// `poolsize` distinct image indices out of `images` (all of them, shuffled, when poolsize is
// larger).
std::vector<int64_t> draw_negative_pool(int64_t images, int64_t poolsize, SplitMix64& rng);

struct MinedNegatives {
  std::vector<std::vector<int64_t>> negatives;  // per query: image indices, most similar first
  double mean_distance = 0;   // mean L2 distance query-negative over all chosen negatives
  int64_t short_queries = 0;  // queries for which the pool held fewer than nnum usable labels
};

// queries: q x dim, pool: p x dim descriptors (L2-normalised rows); pool_images: the image index
// of each pool row; labels: per image index. For each query, walks the pool in descending dot
// product and keeps an image when its label differs from the query's and from the labels already
// kept, until `nnum` negatives.
MinedNegatives mine_hard_negatives(const std::vector<float>& queries,
                                   const std::vector<int64_t>& query_images,
                                   const std::vector<float>& pool,
                                   const std::vector<int64_t>& pool_images, int64_t dim,
                                   const std::vector<int>& labels, int64_t nnum);

}  // namespace mda
