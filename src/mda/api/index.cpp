// mda::Index (mda/index.h): a codebook, an inverted file and the names, behind one reader-writer
// lock. Quantization runs outside the lock; only the change of the postings is exclusive.
#include "mda/index.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "mda/api/merged_shards.h"
#include "mda/asmk/asmk_ranking.h"
#include "mda/asmk/codebook.h"
#include "mda/asmk/inverted_file.h"
#include "mda/sharded_index.h"
#include "mda/util/error.h"

namespace mda {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

void check_index_options(const IndexOptions& options, const Codebook& codebook) {
  if (options.multiple_assignment < 1 ||
      options.multiple_assignment > std::min<int64_t>(255, codebook.k)) {
    fail("index multiple_assignment must be 1..", std::min<int64_t>(255, codebook.k), ", found ",
         options.multiple_assignment);
  }
}

void check_search_options(const SearchOptions& options, int64_t words) {
  if (options.multiple_assignment < 1 || options.multiple_assignment > words)
    fail("search multiple_assignment must be 1..", words, ", found ", options.multiple_assignment);
  if (!(options.alpha > 0)) fail("search alpha must be positive, found ", options.alpha);
  if (!(options.similarity_threshold >= -1 && options.similarity_threshold <= 1))
    fail("search similarity_threshold must be in [-1, 1], found ", options.similarity_threshold);
  if (options.topk < 0) fail("search topk must be 0 (all) or positive, found ", options.topk);
}

}  // namespace

std::vector<Index::View> Index::batch_views(const DescriptorBatch& batch, const char* what) {
  if (batch.images < 0 || batch.dim < 1 ||
      (batch.images > 0 && (!batch.offsets || !batch.descriptors)))
    fail(what, ": a descriptor batch of ", batch.images, " images of dimension ", batch.dim);
  std::vector<View> views;
  views.reserve(static_cast<size_t>(batch.images));
  if (batch.images > 0 && batch.offsets[0] != 0) fail(what, ": descriptor offsets must start at 0");
  for (int64_t i = 0; i < batch.images; ++i) {
    const int64_t begin = batch.offsets[i], end = batch.offsets[i + 1];
    if (end < begin) fail(what, ": descriptor offsets decrease at image ", i);
    views.push_back({batch.descriptors + begin * batch.dim, end - begin, batch.dim});
  }
  return views;
}

struct Index::State {
  Codebook codebook;
  IndexOptions options;
  InvertedFile ivf;
  std::unordered_map<std::string, int64_t> positions;  // name -> image id
  mutable std::shared_mutex mutex;
  // The search context (per-image scales, idf) of the current postings, by use_idf: a pass over
  // every image, kept between searches (at a million images it was half of a query's scan).
  // Written under context_mutex while searches hold `mutex` shared; cleared by every change.
  mutable std::mutex context_mutex;
  mutable std::shared_ptr<const SearchContext> contexts[2];

  std::shared_ptr<const SearchContext> context(const SearchOptions& search) const {
    const std::lock_guard<std::mutex> lock(context_mutex);
    std::shared_ptr<const SearchContext>& cached = contexts[search.use_idf ? 1 : 0];
    if (!cached) cached = std::make_shared<const SearchContext>(ivf.context(search));
    return cached;
  }
  void changed() {
    contexts[0].reset();
    contexts[1].reset();
  }

  State(Codebook c, IndexOptions o, InvertedFile f)
      : codebook(std::move(c)), options(o), ivf(std::move(f)) {}

  void index_names(const std::string& source) {
    positions.clear();
    const std::vector<std::string>& names = ivf.names();
    for (size_t id = 0; id < names.size(); ++id) {
      if (names[id].empty()) continue;
      if (!positions.emplace(names[id], static_cast<int64_t>(id)).second)
        fail(source, ": image name '", names[id], "' appears twice");
    }
  }
};

Index::Index(std::unique_ptr<State> state) : state_(std::move(state)) {}

Index::Index(Codebook codebook, IndexOptions options) {
  if (codebook.k < 1 || codebook.dim < 1 ||
      static_cast<int64_t>(codebook.centroids.size()) != codebook.k * codebook.dim)
    fail("an index needs a codebook with centroids, found ", codebook.k, " x ", codebook.dim);
  check_index_options(options, codebook);
  InvertedFile ivf(codebook.k, codebook.dim, options.binary, codebook.fingerprint);
  ivf.set_centroids(codebook.centroids);
  ivf.set_multiple_assignment(options.multiple_assignment);
  state_ = std::make_unique<State>(std::move(codebook), options, std::move(ivf));
}

Index Index::open(const std::string& path) {
  // A shard manifest (mpirun ... mda build-index) opens as the one index of all its shards. A
  // file that cannot be read is left to InvertedFile::load, whose message names it.
  const bool manifest = std::ifstream(path, std::ios::binary).good() && is_index_manifest(path);
  InvertedFile ivf = manifest ? load_merged_shards(path) : InvertedFile::load(path);
  if (ivf.centroids().empty()) fail(path, ": the index holds no codebook");
  if (ivf.multiple_assignment() < 1)
    fail(path, ": the index does not record its multiple assignment");
  Codebook codebook = Codebook::from_centroids(ivf.centroids(), ivf.words(), ivf.dim());
  IndexOptions options;
  options.binary = ivf.binary();
  options.multiple_assignment = ivf.multiple_assignment();
  auto state = std::make_unique<State>(std::move(codebook), options, std::move(ivf));
  state->index_names(path);
  return Index(std::move(state));
}

Index::Index(Index&&) noexcept = default;
Index& Index::operator=(Index&&) noexcept = default;
Index::~Index() = default;

void Index::add(const std::vector<LocalFeatures>& images, const std::vector<std::string>& names,
                int threads, ProgressCallback progress) {
  std::vector<View> views;
  for (const LocalFeatures& f : images) views.push_back({f.descriptors.data(), f.count(), f.dim});
  add_views(views, names, threads, progress);
}

void Index::add(const DescriptorBatch& images, const std::vector<std::string>& names, int threads,
                ProgressCallback progress) {
  add_views(batch_views(images, "Index::add"), names, threads, progress);
}

void Index::add_views(const std::vector<View>& images, const std::vector<std::string>& names,
                      int threads, const ProgressCallback& progress) {
  if (images.size() != names.size())
    fail("Index::add: ", images.size(), " images but ", names.size(), " names");
  std::unordered_map<std::string, size_t> batch;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty()) fail("Index::add: image ", i, " has an empty name");
    if (!batch.emplace(names[i], i).second)
      fail("Index::add: image name '", names[i], "' is given twice");
  }
  {
    const std::shared_lock<std::shared_mutex> lock(state_->mutex);
    for (const std::string& name : names)
      if (state_->positions.count(name)) fail("Index::add: image '", name, "' is already indexed");
  }
  // Quantize outside the lock: searches go on meanwhile.
  std::vector<DescriptorRange> ranges;
  ranges.reserve(images.size());
  for (const View& image : images) ranges.push_back({image.descriptors, image.count, image.dim});
  const std::vector<AggregatedImage> encoded = encode_images(
      state_->codebook, ranges, state_->options.multiple_assignment, state_->options.binary,
      std::max(1, threads), [&](size_t i) { return "image '" + names[i] + "'"; }, progress);
  const std::unique_lock<std::shared_mutex> lock(state_->mutex);
  for (const std::string& name : names)  // another add may have taken a name meanwhile
    if (state_->positions.count(name)) fail("Index::add: image '", name, "' is already indexed");
  const int64_t first = state_->ivf.images();
  for (size_t i = 0; i < encoded.size(); ++i) {
    state_->ivf.add(first + static_cast<int64_t>(i), encoded[i], names[i]);
    state_->positions.emplace(names[i], first + static_cast<int64_t>(i));
  }
  state_->ivf.finalize();
  state_->changed();
}

void Index::remove(const std::vector<std::string>& names) {
  const std::unique_lock<std::shared_mutex> lock(state_->mutex);
  std::vector<int64_t> ids;
  for (const std::string& name : names) {
    const auto found = state_->positions.find(name);
    if (found == state_->positions.end()) fail("Index::remove: no image '", name, "' in the index");
    ids.push_back(found->second);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  state_->ivf.remove(ids);
  state_->changed();
  state_->index_names("index");
}

void Index::save(const std::string& path) const {
  const std::shared_lock<std::shared_mutex> lock(state_->mutex);
  state_->ivf.save(path);
}

std::vector<Index::View> Index::feature_views(const std::vector<LocalFeatures>& features) {
  std::vector<View> views;
  views.reserve(features.size());
  for (const LocalFeatures& f : features) views.push_back({f.descriptors.data(), f.count(), f.dim});
  return views;
}

std::vector<std::vector<SearchHit>> Index::search(const std::vector<LocalFeatures>& queries,
                                                  const SearchOptions& options,
                                                  SearchTimings* timings,
                                                  ProgressCallback progress) const {
  return search_views(feature_views(queries), options, timings, progress);
}

std::vector<std::vector<SearchHit>> Index::search(const DescriptorBatch& queries,
                                                  const SearchOptions& options,
                                                  SearchTimings* timings,
                                                  ProgressCallback progress) const {
  return search_views(batch_views(queries, "Index::search"), options, timings, progress);
}

SearchRanking Index::rank(const std::vector<LocalFeatures>& queries, const SearchOptions& options,
                          SearchTimings* timings, ProgressCallback progress) const {
  return rank_views(feature_views(queries), options, timings, progress);
}

SearchRanking Index::rank(const DescriptorBatch& queries, const SearchOptions& options,
                          SearchTimings* timings, ProgressCallback progress) const {
  return rank_views(batch_views(queries, "Index::rank"), options, timings, progress);
}

SearchRanking Index::rank_views(const std::vector<View>& queries, const SearchOptions& options,
                                SearchTimings* timings, const ProgressCallback& progress,
                                std::vector<std::vector<SearchHit>>* named) const {
  EncodeTimings encode_timings;
  const std::vector<AggregatedImage> encoded = encode_queries(queries, options, encode_timings);
  const auto scan_start = Clock::now();
  SearchRanking ranking = rank_encoded(encoded, options, progress, named);
  if (timings) {
    timings->quantize = encode_timings.quantize;
    timings->aggregate = encode_timings.aggregate;
    timings->scan = seconds_between(scan_start, Clock::now());
  }
  return ranking;
}

std::vector<std::vector<SearchHit>> Index::search_views(const std::vector<View>& queries,
                                                        const SearchOptions& options,
                                                        SearchTimings* timings,
                                                        const ProgressCallback& progress) const {
  std::vector<std::vector<SearchHit>> hits;
  rank_views(queries, options, timings, progress, &hits);
  return hits;
}

std::vector<AggregatedImage> Index::encode_queries(const std::vector<View>& queries,
                                                   const SearchOptions& options,
                                                   EncodeTimings& timings) const {
  check_search_options(options, state_->codebook.k);
  const int threads = std::max(1, options.threads);
  std::vector<AggregatedImage> encoded;
  encoded.reserve(queries.size());
  for (size_t q = 0; q < queries.size(); ++q) {
    encoded.push_back(encode_features(state_->codebook, queries[q].descriptors, queries[q].count,
                                      queries[q].dim, options.multiple_assignment,
                                      state_->options.binary, threads, "query " + std::to_string(q),
                                      &timings));
  }
  return encoded;
}

SearchRanking Index::rank_encoded(const std::vector<AggregatedImage>& encoded,
                                  const SearchOptions& options, const ProgressCallback& progress,
                                  std::vector<std::vector<SearchHit>>* named) const {
  // `options` were checked by encode_queries, which made `encoded`.
  const int threads = std::max(1, options.threads);
  const std::shared_lock<std::shared_mutex> lock(state_->mutex);
  SearchRanking ranking;
  ranking.queries = static_cast<int64_t>(encoded.size());
  const int64_t n_db = state_->ivf.images();
  if (n_db > 0 && !encoded.empty()) {
    const int64_t topk = options.topk > 0 ? std::min(options.topk, n_db) : n_db;
    const std::shared_ptr<const SearchContext> context = state_->context(options);
    ranking = rank_queries(state_->ivf, encoded, options, topk, threads, progress, context.get());
  }
  if (!named) return ranking;
  const std::vector<std::string>& names = state_->ivf.names();
  named->assign(static_cast<size_t>(ranking.queries), {});
  for (int64_t q = 0; q < ranking.queries; ++q) {
    std::vector<SearchHit>& out = (*named)[static_cast<size_t>(q)];
    out.reserve(static_cast<size_t>(ranking.topk));
    for (int64_t r = 0; r < ranking.topk; ++r) {
      const size_t at = static_cast<size_t>(q * ranking.topk + r);
      const int64_t image = ranking.images[at];
      out.push_back({names[static_cast<size_t>(image)], image, ranking.scores[at]});
    }
  }
  return ranking;
}

std::vector<SearchHit> Index::search(const LocalFeatures& query,
                                     const SearchOptions& options) const {
  return search(std::vector<LocalFeatures>{query}, options).front();
}

std::vector<std::vector<SearchHit>> Index::search(const Extractor& extractor,
                                                  const std::vector<std::string>& image_paths,
                                                  const SearchOptions& options) const {
  check_extractor(extractor);
  return search(extractor.extract_many(image_paths), options);
}

std::vector<SearchHit> Index::search(const Extractor& extractor, const std::string& image_path,
                                     const std::optional<BoundingBox>& box,
                                     const SearchOptions& options) const {
  check_extractor(extractor);
  return search(extractor.extract(image_path, box), options);
}

void Index::check_extractor(const Extractor& extractor) const {
  if (extractor.descriptor_dim() != state_->codebook.dim) {
    fail("the model gives ", extractor.descriptor_dim(),
         "-d descriptors, the index's codebook has ", state_->codebook.dim, "-d words");
  }
}

int64_t Index::size() const {
  const std::shared_lock<std::shared_mutex> lock(state_->mutex);
  return state_->ivf.images();
}

bool Index::contains(const std::string& name) const {
  const std::shared_lock<std::shared_mutex> lock(state_->mutex);
  return state_->positions.count(name) > 0;
}

std::vector<std::string> Index::names() const {
  const std::shared_lock<std::shared_mutex> lock(state_->mutex);
  return state_->ivf.names();
}

const Codebook& Index::codebook() const { return state_->codebook; }

IndexOptions Index::options() const { return state_->options; }

IndexStatistics Index::statistics() const {
  const std::shared_lock<std::shared_mutex> lock(state_->mutex);
  const IvfStats s = state_->ivf.stats();
  IndexStatistics out;
  out.images = s.images_with_words;
  out.entries = s.entries;
  out.words = s.words;
  out.empty_words = s.empty_words;
  out.vectors_per_image = s.vectors_per_image;
  out.imbalance = s.imbalance;
  out.file_bytes = s.file_bytes;
  out.binary = state_->options.binary;
  out.multiple_assignment = state_->options.multiple_assignment;
  return out;
}

}  // namespace mda
