// The best database images per query as arrays, without their names: what Index::rank returns,
// what numpy code and the evaluation read, and a quarter of the memory of SearchHit lists for a
// ranking of every image.
#pragma once

#include <cstdint>
#include <vector>

namespace mda {

// Each query's list is one run of memory, best first, ties to the lower position.
struct SearchRanking {
  int64_t queries = 0, topk = 0;  // topk: images ranked per query (at most the index's size)
  std::vector<int64_t> images;    // images[q * topk + r]: the position of query q's r-th best image
  std::vector<float> scores;      // the same layout
};

}  // namespace mda
