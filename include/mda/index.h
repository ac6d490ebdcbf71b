// An ASMK* index held in memory: a codebook, the database images' aggregated codes in an inverted
// file, and the images' names. One file holds all three (docs/formats.md), so an index can be
// searched with nothing else.
//
// Thread safety: any number of threads may search at once; add() and remove() take the index for
// themselves (they wait for running searches, and searches wait for them), so a search always sees
// the index before or after a change, never half of one.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mda/codebook.h"
#include "mda/extractor.h"
#include "mda/local_features.h"
#include "mda/options.h"
#include "mda/search_ranking.h"

namespace mda {

struct AggregatedImage;  // internal: a query's aggregated codes
struct EncodeTimings;    // internal
class ShardedIndex;

// The descriptors of several images in one row-major array, borrowed (as numpy's vecs and a
// feature folder hold them): image i owns rows offsets[i] .. offsets[i + 1] - 1.
struct DescriptorBatch {
  const float* descriptors = nullptr;
  const int64_t* offsets = nullptr;  // images + 1 values, offsets[0] = 0, never decreasing
  int64_t images = 0;
  int64_t dim = 0;
};

struct SearchHit {
  std::string name;   // the database image's name
  int64_t index = 0;  // its position in the index (0-based, the order images were added in)
  float score = 0;
};

// Wall-clock seconds of a search's steps, summed over its queries.
struct SearchTimings {
  double quantize = 0;   // nearest words of every query descriptor
  double aggregate = 0;  // residual aggregation and binarization
  double scan = 0;       // scoring the inverted file and ranking (over options.threads threads)
};

struct IndexStatistics {
  int64_t images = 0, entries = 0, words = 0, empty_words = 0;
  double vectors_per_image = 0;  // aggregated words per image
  double imbalance = 0;          // words * sum(n_w^2) / (sum n_w)^2; 1 = perfectly balanced
  int64_t file_bytes = 0;        // size of the file it was opened from (0 when built in memory)
  bool binary = true;
  int multiple_assignment = 1;
};

class Index {
 public:
  Index(Codebook codebook, IndexOptions options = {});
  // Memory-maps an index file written by save() or `mda build-index`; checksums are verified.
  // A shard manifest (sharded_index.h) opens as one index of all its shards, merged in memory.
  static Index open(const std::string& path);
  Index(Index&&) noexcept;
  Index& operator=(Index&&) noexcept;
  ~Index();

  // Adds images after the ones already held; names must be new, distinct and not empty.
  // Descriptors are of the codebook's dimension; an image without any (one left out as unreadable)
  // keeps its position and name but is never found (score 0). The images' descriptors are
  // quantized together in blocks (on `threads` threads); `progress` receives (images done, images)
  // after each block.
  void add(const std::vector<LocalFeatures>& images, const std::vector<std::string>& names,
           int threads = 1, ProgressCallback progress = nullptr);
  void add(const DescriptorBatch& images, const std::vector<std::string>& names, int threads = 1,
           ProgressCallback progress = nullptr);
  // Removes the named images (unknown names are an error, and then nothing is removed); the images
  // after them move up, so positions stay 0..size()-1.
  void remove(const std::vector<std::string>& names);
  // Writes the index atomically (a crash leaves the old file or the new one).
  void save(const std::string& path) const;

  // The best images per query, best first (ties to the lower position), at most options.topk
  // (0 = every image).
  // `timings`, when given, receives the seconds of each step; `progress` is called per query.
  std::vector<std::vector<SearchHit>> search(const std::vector<LocalFeatures>& queries,
                                             const SearchOptions& options = {},
                                             SearchTimings* timings = nullptr,
                                             ProgressCallback progress = nullptr) const;
  std::vector<std::vector<SearchHit>> search(const DescriptorBatch& queries,
                                             const SearchOptions& options = {},
                                             SearchTimings* timings = nullptr,
                                             ProgressCallback progress = nullptr) const;
  // The same ranking as search(), as positions and scores: the positions are those of the index
  // when it searched (names() gives their names while no add() or remove() runs meanwhile).
  SearchRanking rank(const std::vector<LocalFeatures>& queries, const SearchOptions& options = {},
                     SearchTimings* timings = nullptr, ProgressCallback progress = nullptr) const;
  SearchRanking rank(const DescriptorBatch& queries, const SearchOptions& options = {},
                     SearchTimings* timings = nullptr, ProgressCallback progress = nullptr) const;
  // Query images: their features extracted by `extractor` (whose model must give descriptors of
  // the codebook's dimension), then searched as above.
  std::vector<std::vector<SearchHit>> search(const Extractor& extractor,
                                             const std::vector<std::string>& image_paths,
                                             const SearchOptions& options = {}) const;
  std::vector<SearchHit> search(const Extractor& extractor, const std::string& image_path,
                                const std::optional<BoundingBox>& box,
                                const SearchOptions& options = {}) const;
  std::vector<SearchHit> search(const LocalFeatures& query,
                                const SearchOptions& options = {}) const;

  int64_t size() const;
  bool contains(const std::string& name) const;
  std::vector<std::string> names() const;
  const Codebook& codebook() const;
  IndexOptions options() const;
  IndexStatistics statistics() const;

 private:
  friend class ShardedIndex;  // quantizes its queries once for all its shards
  struct State;
  struct View {  // one image's descriptors, borrowed
    const float* descriptors;
    int64_t count, dim;
  };
  void check_extractor(const Extractor& extractor) const;
  static std::vector<View> batch_views(const DescriptorBatch& batch, const char* what);
  void add_views(const std::vector<View>& images, const std::vector<std::string>& names,
                 int threads, const ProgressCallback& progress);
  static std::vector<View> feature_views(const std::vector<LocalFeatures>& features);
  SearchRanking rank_views(const std::vector<View>& queries, const SearchOptions& options,
                           SearchTimings* timings, const ProgressCallback& progress,
                           std::vector<std::vector<SearchHit>>* named = nullptr) const;
  std::vector<std::vector<SearchHit>> search_views(const std::vector<View>& queries,
                                                   const SearchOptions& options,
                                                   SearchTimings* timings,
                                                   const ProgressCallback& progress) const;
  std::vector<AggregatedImage> encode_queries(const std::vector<View>& queries,
                                              const SearchOptions& options,
                                              EncodeTimings& timings) const;
  // `named`, when given, also receives the ranking as lists of named hits (made under the same
  // lock, so the names are those of the ranked positions).
  SearchRanking rank_encoded(const std::vector<AggregatedImage>& encoded,
                             const SearchOptions& options, const ProgressCallback& progress,
                             std::vector<std::vector<SearchHit>>* named = nullptr) const;
  explicit Index(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace mda
