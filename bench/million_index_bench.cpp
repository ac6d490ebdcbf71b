// The index at 100,000 and 1,000,000 images (issue 14, docs/scaling.md): build, size, load and
// query costs, and whether real matches still come first among a million distractors.
//
//   mda_bench_million build --codebook C.npy --database DB_FEATURES --distractors N --out INDEX
//                           [--threads T] [--seed S] [--through-api 1 [--checkpoint-every 50000]]
//   mda_bench_million query --index INDEX --queries Q_FEATURES --gnd GND.json [--threads T]
//                           [--latency-queries 100] [--topk 100]
//
// build: indexes the real database (ukbench1k features) through mda::Index::add, timed: the build
// rate of the API at this codebook size. Then N distractor images are generated from the real
// index's statistics: each takes its number of aggregated words from the real images' counts (drawn
// at random) and its words from the real postings' word frequencies (distinct words, drawn in
// proportion), each word's binarized residual a random code. Quantizing 300 descriptors against
// 65,536 words costs about 5 GFLOP per image (a day of a 2-core machine for a million images), so
// the distractors are written as postings, not through the quantizer; their rate is reported
// apart and the API rate is the one to project with. With --through-api 1 they are descriptors
// drawn close to their words' centroids instead, added through Index::add 1,000 at a time (the
// whole build path, at the API's rate), checkpointed to INDEX.partial every 50,000 so that an
// interrupted build resumes where it stopped. The distractors follow the real images
// (whose positions the ground truth uses), and the index is saved as one file.
//
// query: opens the index (memory map, checksums verified: the load time), times
// `--latency-queries` single-query searches (quantize, aggregate, scan; p50 and p99), then ranks
// the top `--topk` for every query and evaluates them with the ground truth extended by the
// distractors' names (so that a distractor counts as a wrong answer at its rank).
//
// Both print one JSON object on stdout with the figures and peak memory (ru_maxrss).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <unordered_set>
#include <vector>

#include "cpu_model.h"
#include "mda/asmk/inverted_file.h"
#include "mda/codebook.h"
#include "mda/evaluate.h"
#include "mda/features/feature_folder.h"
#include "mda/index.h"
#include "mda/io/json.h"
#include "mda/util/error.h"
#include "mda/util/fs.h"
#include "mda/util/random.h"
#include "mda/util/strings.h"

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double peak_rss_gib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / (1024.0 * 1024.0);
}

std::map<std::string, std::string> parse_options(int argc, char** argv) {
  std::map<std::string, std::string> options;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::strncmp(argv[i], "--", 2) != 0)
      throw mda::Error(mda::cat("unexpected '", argv[i], "'"));
    options[argv[i] + 2] = argv[i + 1];
  }
  return options;
}

std::string need(const std::map<std::string, std::string>& options, const std::string& key) {
  const auto found = options.find(key);
  if (found == options.end()) throw mda::Error("missing --" + key);
  return found->second;
}

int64_t number(const std::map<std::string, std::string>& options, const std::string& key,
               int64_t fallback) {
  const auto found = options.find(key);
  return found == options.end() ? fallback : std::stoll(found->second);
}

mda::DescriptorBatch batch_of(const mda::FeatureSet& features) {
  mda::DescriptorBatch batch;
  batch.descriptors = features.descriptors.data();
  batch.offsets = features.offsets.data();
  batch.images = features.images;
  batch.dim = features.dim;
  return batch;
}

// Distractor images drawn from a real index's statistics; image i is the same on every call.
class DistractorModel {
 public:
  DistractorModel(const mda::InvertedFile& real, uint64_t seed) : seed_(seed) {
    for (int64_t id = 0; id < real.images(); ++id) {
      if (real.image_words()[static_cast<size_t>(id)] > 0)
        words_per_image_.push_back(real.image_words()[static_cast<size_t>(id)]);
    }
    if (words_per_image_.empty()) throw mda::Error("the real index has no words");
    double total = 0;
    for (int32_t w = 0; w < real.words(); ++w) {
      total += static_cast<double>(real.postings(w)) + 0.01;  // every word stays possible
      cumulative_.push_back(total);
    }
  }
  // The distinct words of distractor `i`.
  void words(int64_t i, std::vector<int32_t>& out, std::unordered_set<int32_t>& seen) const {
    mda::SplitMix64 random(seed_ * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(i));
    const uint32_t n = words_per_image_[random.below(words_per_image_.size())];
    out.clear();
    seen.clear();
    while (out.size() < n) {
      const double u = random.unit() * cumulative_.back();
      const int32_t w = static_cast<int32_t>(
          std::upper_bound(cumulative_.begin(), cumulative_.end(), u) - cumulative_.begin());
      if (seen.insert(w).second) out.push_back(w);
    }
  }

 private:
  uint64_t seed_;
  std::vector<uint32_t> words_per_image_;
  std::vector<double> cumulative_;
};

// N distractors as finalized postings (two passes over the model: counts, then entries).
mda::InvertedFile distractor_postings(const DistractorModel& model, int64_t n,
                                      const mda::InvertedFile& real, uint64_t seed) {
  const int64_t words = real.words();
  std::vector<uint64_t> offsets(static_cast<size_t>(words + 1), 0);
  std::vector<uint32_t> image_words(static_cast<size_t>(n));
  std::vector<int32_t> chosen;
  std::unordered_set<int32_t> seen;
  for (int64_t i = 0; i < n; ++i) {
    model.words(i, chosen, seen);
    image_words[static_cast<size_t>(i)] = static_cast<uint32_t>(chosen.size());
    for (int32_t w : chosen) ++offsets[static_cast<size_t>(w + 1)];
  }
  for (int64_t w = 0; w < words; ++w)
    offsets[static_cast<size_t>(w + 1)] += offsets[static_cast<size_t>(w)];
  const size_t bytes = static_cast<size_t>(real.entry_bytes());
  std::vector<uint32_t> ids(static_cast<size_t>(offsets.back()));
  std::vector<uint8_t> codes(ids.size() * bytes);
  std::vector<uint64_t> next(offsets.begin(), offsets.end() - 1);
  mda::SplitMix64 code_random(seed + 17);
  for (int64_t i = 0; i < n; ++i) {
    model.words(i, chosen, seen);
    for (int32_t w : chosen) {
      const uint64_t at = next[static_cast<size_t>(w)]++;
      ids[at] = static_cast<uint32_t>(i);
      for (size_t b = 0; b < bytes; b += 8) {
        const uint64_t r = code_random.next();
        std::memcpy(&codes[at * bytes + b], &r, std::min<size_t>(8, bytes - b));
      }
    }
  }
  mda::InvertedFile ivf = mda::InvertedFile::from_postings(
      words, real.dim(), real.binary(), real.fingerprint(), std::move(offsets), std::move(ids),
      std::move(codes), std::move(image_words));
  ivf.set_multiple_assignment(real.multiple_assignment());
  return ivf;
}

struct ApiBuild {
  int64_t resumed_after = 0;     // distractors found in the checkpoint at the start
  double images_per_second = 0;  // this process's distractors only
};

// Distractor i's descriptors: as many as the real images have per image, each drawn close to one
// of its words' centroids (its own random stream, so a resumed build adds the same images).
void distractor_descriptors(const DistractorModel& model, const mda::Codebook& codebook, int64_t i,
                            int64_t per_image, uint64_t seed, std::vector<float>& descriptors,
                            std::vector<int32_t>& chosen, std::unordered_set<int32_t>& seen) {
  model.words(i, chosen, seen);
  mda::SplitMix64 noise((seed + 29) * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(i));
  for (int64_t r = 0; r < per_image; ++r) {
    const float* centroid = &codebook.centroids[static_cast<size_t>(
        chosen[static_cast<size_t>(r) % chosen.size()] * codebook.dim)];
    for (int64_t t = 0; t < codebook.dim; ++t)
      descriptors.push_back(centroid[t] + static_cast<float>(noise.uniform(-0.01, 0.01)));
  }
}

// Adds n distractors to `index` (holding the real images) through Index::add, 1,000 images per
// batch, and saves it to `out`. Every `checkpoint_every` distractors the index is saved to
// out.partial; a later run with the same arguments opens it and goes on from there, so a
// million-image build (hours) can be split over several sittings.
ApiBuild add_distractors_through_api(mda::Index& index, const DistractorModel& model,
                                     const mda::Codebook& codebook, const mda::FeatureSet& database,
                                     int64_t n, uint64_t seed, int threads, const std::string& out,
                                     int64_t checkpoint_every) {
  if (checkpoint_every <= 0 || checkpoint_every % 1000 != 0)
    throw mda::Error(
        mda::cat("--checkpoint-every must be a positive multiple of 1000, not ", checkpoint_every));
  ApiBuild built;
  const std::string partial = out + ".partial";
  if (std::filesystem::exists(partial)) {
    mda::Index resumed = mda::Index::open(partial);
    const int64_t done = resumed.size() - database.images;
    const std::vector<std::string> real_names = index.names(), names = resumed.names();
    if (done < 0 || done > n || done % 1000 != 0 ||
        !std::equal(real_names.begin(), real_names.end(), names.begin()))
      throw mda::Error(mda::cat(partial, ": holds ", resumed.size(),
                                " images, not the real images and a whole number of batches of "
                                "the requested distractors; remove it to start over"));
    index = std::move(resumed);
    built.resumed_after = done;
    std::cerr << "resuming after " << done << " distractors (" << partial << ")\n";
  }
  const auto start = Clock::now();
  const int64_t per_image = database.offsets.back() / std::max<int64_t>(database.images, 1);
  std::vector<int32_t> chosen;
  std::unordered_set<int32_t> seen;
  for (int64_t first = built.resumed_after; first < n; first += 1000) {
    const int64_t count = std::min<int64_t>(1000, n - first);
    std::vector<float> descriptors;
    std::vector<int64_t> offsets{0};
    std::vector<std::string> names;
    for (int64_t i = first; i < first + count; ++i) {
      distractor_descriptors(model, codebook, i, per_image, seed, descriptors, chosen, seen);
      offsets.push_back(offsets.back() + per_image);
      names.push_back("distractor" + std::to_string(i));
    }
    mda::DescriptorBatch batch;
    batch.descriptors = descriptors.data();
    batch.offsets = offsets.data();
    batch.images = count;
    batch.dim = codebook.dim;
    index.add(batch, names, threads);
    const int64_t done = first + count;
    const double seconds = since(start);
    const double rate = static_cast<double>(done - built.resumed_after) / std::max(seconds, 1e-9);
    std::cerr << "\rdistractors through the API: " << done << "/" << n << ", " << rate
              << " images/s, ETA " << static_cast<int64_t>(static_cast<double>(n - done) / rate)
              << " s   " << std::flush;
    if (done % checkpoint_every == 0 && done < n) index.save(partial);
  }
  std::cerr << "\n";
  built.images_per_second =
      static_cast<double>(n - built.resumed_after) / std::max(since(start), 1e-9);
  index.save(out);
  std::filesystem::remove(partial);
  return built;
}

int build(const std::map<std::string, std::string>& options) {
  const std::string out = need(options, "out");
  const int threads = static_cast<int>(number(options, "threads", 2));
  const int64_t n = number(options, "distractors", 0);
  const uint64_t seed = static_cast<uint64_t>(number(options, "seed", 1));
  mda::Value report = mda::Value::empty_dict();
  report.set("cpu", mda::Value(cpu_model()));
  const mda::Codebook codebook = mda::Codebook::load(need(options, "codebook"));
  const mda::FeatureSet database = mda::read_feature_folder(need(options, "database"));
  std::vector<std::string> names;
  for (int64_t i = 0; i < database.images; ++i) names.push_back(database.image_name(i));

  auto start = Clock::now();
  mda::Index real(codebook);
  real.add(batch_of(database), names, threads);
  const double api_seconds = since(start);
  report.set("words", mda::Value(codebook.k));
  report.set("real_images", mda::Value(database.images));
  report.set("real_descriptors_per_image", mda::Value(static_cast<double>(database.offsets.back()) /
                                                      static_cast<double>(database.images)));
  report.set("api_build_images_per_second",
             mda::Value(static_cast<double>(database.images) / api_seconds));
  report.set("threads", mda::Value(threads));
  const std::string real_path = out + ".real";
  real.save(real_path);
  mda::InvertedFile index = mda::InvertedFile::load(real_path);

  const DistractorModel model(index, seed);
  if (number(options, "through-api", 0) != 0) {
    const ApiBuild built =
        add_distractors_through_api(real, model, codebook, database, n, seed, threads, out,
                                    number(options, "checkpoint-every", 50000));
    report.set("resumed_after_distractors", mda::Value(built.resumed_after));
    report.set("api_distractor_images_per_second", mda::Value(built.images_per_second));
    index = mda::InvertedFile::load(out);
  } else {
    start = Clock::now();
    const mda::InvertedFile distractors = distractor_postings(model, n, index, seed);
    report.set("generated_images_per_second",
               mda::Value(static_cast<double>(n) / std::max(since(start), 1e-9)));
    start = Clock::now();
    index.append(distractors, "distractors");
    index.save(out);
    report.set("append_and_save_seconds", mda::Value(since(start)));
  }
  const mda::IvfStats stats = index.stats();
  const double bytes = static_cast<double>(std::filesystem::file_size(out));
  report.set("images", mda::Value(stats.images));
  report.set("entries", mda::Value(stats.entries));
  report.set("vectors_per_image", mda::Value(stats.vectors_per_image));
  report.set("imbalance", mda::Value(stats.imbalance));
  report.set("file_bytes", mda::Value(bytes));
  report.set("bytes_per_entry", mda::Value(bytes / static_cast<double>(stats.entries)));
  report.set("bytes_per_image", mda::Value(bytes / static_cast<double>(stats.images)));
  report.set("peak_memory_gib", mda::Value(peak_rss_gib()));
  std::cout << mda::to_json(report, -1) << std::endl;
  return 0;
}

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const size_t at = static_cast<size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(at, values.size() - 1)];
}

int query(const std::map<std::string, std::string>& options) {
  const std::string path = need(options, "index");
  const int threads = static_cast<int>(number(options, "threads", 1));
  const int64_t latency_queries = number(options, "latency-queries", 100);
  mda::Value report = mda::Value::empty_dict();
  report.set("cpu", mda::Value(cpu_model()));
  report.set("threads", mda::Value(threads));
  auto start = Clock::now();
  const mda::Index index = mda::Index::open(path);
  report.set("load_seconds", mda::Value(since(start)));
  report.set("images", mda::Value(index.size()));
  const mda::FeatureSet queries = mda::read_feature_folder(need(options, "queries"));
  mda::SearchOptions search;
  search.threads = threads;
  search.topk = number(options, "topk", 100);

  // Latency: one query at a time, as a service answers them.
  std::vector<double> total, quantize, aggregate, scan;
  for (int64_t q = 0; q < std::min(latency_queries, queries.images); ++q) {
    mda::DescriptorBatch one;
    const int64_t first = queries.offsets[static_cast<size_t>(q)];
    const std::vector<int64_t> offsets{0, queries.offsets[static_cast<size_t>(q + 1)] - first};
    one.descriptors = queries.descriptors.data() + first * queries.dim;
    one.offsets = offsets.data();
    one.images = 1;
    one.dim = queries.dim;
    mda::SearchTimings timings;
    start = Clock::now();
    index.search(one, search, &timings);
    total.push_back(since(start));
    quantize.push_back(timings.quantize);
    aggregate.push_back(timings.aggregate);
    scan.push_back(timings.scan);
  }
  const auto stage = [&](const char* name, const std::vector<double>& seconds) {
    mda::Value v = mda::Value::empty_dict();
    v.set("p50_ms", mda::Value(1000 * percentile(seconds, 0.5)));
    v.set("p99_ms", mda::Value(1000 * percentile(seconds, 0.99)));
    report.set(name, v);
  };
  stage("query_total", total);
  stage("query_quantize", quantize);
  stage("query_aggregate", aggregate);
  stage("query_scan", scan);

  // Accuracy: every query's top-k, the distractors named in the ground truth's image list.
  start = Clock::now();
  const std::vector<std::vector<mda::SearchHit>> hits = index.search(batch_of(queries), search);
  report.set("all_queries_seconds", mda::Value(since(start)));
  std::vector<std::vector<int64_t>> ranks;
  for (const auto& list : hits) {
    ranks.emplace_back();
    for (const mda::SearchHit& hit : list) ranks.back().push_back(hit.index);
  }
  mda::Value gnd = mda::read_json(need(options, "gnd"));
  mda::Value::List& imlist = gnd.find("imlist")->as_list();
  for (int64_t i = static_cast<int64_t>(imlist.size()); i < index.size(); ++i)
    imlist.emplace_back(mda::cat("distractor", i));
  const std::string extended = path + ".gnd.json";
  mda::write_json(extended, gnd);
  const mda::RetrievalScores scores = mda::evaluate(extended, ranks);
  std::remove(extended.c_str());
  report.set("map_medium_top" + std::to_string(search.topk),
             mda::Value(100 * scores.protocols[1].map));
  report.set("mp_at_1", mda::Value(100 * scores.protocols[1].mp_at_k[0]));
  report.set("peak_memory_gib", mda::Value(peak_rss_gib()));
  std::cout << mda::to_json(report, -1) << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "build") return build(parse_options(argc, argv));
    if (mode == "query") return query(parse_options(argc, argv));
    std::cerr << "usage: mda_bench_million build|query --option value ... (see the source)\n";
    return 2;
  } catch (const std::exception& error) {
    std::cerr << "mda_bench_million: " << error.what() << "\n";
    return 1;
  }
}
