// Ranking queries against an inverted file, and the whole ASMK* evaluation of in-memory features
// (codebook from the database, index, search) used by validation during training and the demo.
#pragma once

#include <cstdint>
#include <vector>

#include "mda/asmk/aggregate.h"
#include "mda/asmk/inverted_file.h"
#include "mda/eval/revisited_eval.h"
#include "mda/features/local_features.h"

namespace mda {

class Progress;

// The best `topk` database images per query, in revisitop's orientation (topk rows x queries
// columns), ties to the lower index.
struct RankedLists {
  int64_t topk = 0, queries = 0;
  std::vector<int64_t> ranks;  // ranks[r * queries + q]
  std::vector<float> scores;   // the same layout
};

// Scores every query on `threads` threads (one query per thread at a time).
RankedLists rank_queries(const InvertedFile& ivf, const std::vector<AggregatedImage>& queries,
                         const AsmkSearchParams& params, int64_t topk, int threads,
                         Progress* progress = nullptr);

struct AsmkEvaluationOptions {
  int64_t codebook_size = 4096;  // lowered to the number of database descriptors if larger
  int iterations = 10;
  int64_t max_points_per_centroid = 256;
  uint64_t seed = 1234;
  bool binary = true;
  int database_assignment = 1, query_assignment = 5;
  AsmkSearchParams params;
  int threads = 1;
};

// Trains a codebook on `codebook_features` (the database's own descriptors when null), indexes the
// database and ranks all of it for every query.
Ranking asmk_full_ranking(const std::vector<LocalFeatures>& database,
                          const std::vector<LocalFeatures>& queries,
                          const AsmkEvaluationOptions& options,
                          const std::vector<LocalFeatures>* codebook_features = nullptr);

}  // namespace mda
