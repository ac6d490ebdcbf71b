// Ranking queries against an inverted file, and the whole ASMK* evaluation of in-memory features
// (codebook from the database, index, search) used by validation during training and the demo.
#pragma once

#include <cstdint>
#include <vector>

#include "mda/asmk/aggregate.h"
#include "mda/asmk/inverted_file.h"
#include "mda/eval/revisited_eval.h"
#include "mda/local_features.h"
#include "mda/search_ranking.h"

namespace mda {

// How many queries are scored together in one pass over the postings of an index of `images`
// images: more share each word's reads from memory, but each adds into its own score array (4
// bytes per image), and the arrays must stay in a core's cache. Up to 8, within 1 MiB of scores.
// Measured on 2 cores (200 queries, 300 descriptors, 1,024 words): at 10,000 images 8 queries
// scanned 1.5x faster than one, 16 no faster than 4; at 1,000,000 images 8 were 1.3x slower.
int64_t queries_per_scan(int64_t images);

// Scores every query on `threads` threads (groups of queries_per_scan() queries, one group per
// thread at a time; with fewer groups than threads, each group's scan is split among the rest);
// `progress` is called after each group, one call at a time. `context` is ivf.context(params),
// computed here when null (a caller searching the same index again keeps it: it costs a pass over
// every image).
SearchRanking rank_queries(const InvertedFile& ivf, const std::vector<AggregatedImage>& queries,
                           const SearchOptions& params, int64_t topk, int threads,
                           const ProgressCallback& progress = nullptr,
                           const SearchContext* context = nullptr);

struct AsmkEvaluationOptions {
  KMeansOptions codebook;  // codebook.k is lowered to the number of training descriptors
  IndexOptions index;
  SearchOptions search;  // search.topk is ignored: every database image is ranked
};

// Trains a codebook on `codebook_features` (the database's own descriptors when null), indexes the
// database and ranks all of it for every query.
Ranking asmk_full_ranking(const std::vector<LocalFeatures>& database,
                          const std::vector<LocalFeatures>& queries,
                          const AsmkEvaluationOptions& options,
                          const std::vector<LocalFeatures>* codebook_features = nullptr);

}  // namespace mda
