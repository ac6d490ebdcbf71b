// ASMK: nearest centroids, k-means, aggregation and the inverted file, checked against a
// straightforward reference written here (every image, every word, no index).
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <random>

#include "mda/asmk/aggregate.h"
#include "mda/asmk/asmk_ranking.h"
#include "mda/asmk/codebook.h"
#include "mda/asmk/inverted_file.h"
#include "mda/asmk/kmeans.h"
#include "mda/asmk/matrix.h"
#include "mda/util/fs.h"
#include "mda/util/random.h"
#include "test_helpers.h"

namespace mda {
namespace {

// Small integers: every distance and residual is exact in float, so ties are real ties.
std::vector<float> integer_matrix(int64_t rows, int64_t cols, std::mt19937& rng, int range = 3) {
  std::uniform_int_distribution<int> pick(-range, range);
  std::vector<float> m(static_cast<size_t>(rows * cols));
  for (float& v : m) v = static_cast<float>(pick(rng));
  return m;
}

// Reference assignment: brute force in double, nearest first, ties to the lower index.
std::vector<int32_t> reference_assign(const std::vector<float>& x, int64_t n,
                                      const std::vector<float>& c, int64_t k, int64_t d, int ma) {
  std::vector<int32_t> out;
  for (int64_t i = 0; i < n; ++i) {
    std::vector<std::pair<double, int32_t>> all;
    for (int64_t j = 0; j < k; ++j) {
      double dist = 0;
      for (int64_t t = 0; t < d; ++t)
        dist += std::pow(static_cast<double>(x[static_cast<size_t>(i * d + t)]) -
                             c[static_cast<size_t>(j * d + t)],
                         2);
      all.emplace_back(dist, static_cast<int32_t>(j));
    }
    std::sort(all.begin(), all.end());
    for (int a = 0; a < ma; ++a) out.push_back(all[static_cast<size_t>(a)].second);
  }
  return out;
}

AggregatedImage aggregate_with(const std::vector<float>& x, int64_t n, const std::vector<float>& c,
                               int64_t k, int64_t d, int ma, bool binary) {
  std::vector<int32_t> idx(static_cast<size_t>(n * ma));
  std::vector<float> dist(static_cast<size_t>(n * ma));
  nearest_centroids(x.data(), n, c.data(), row_norms(c.data(), k, d), k, d, ma, idx.data(),
                    dist.data(), 2);
  return aggregate(x.data(), n, d, idx.data(), ma, c.data(), k, binary);
}

TEST(NearestCentroids, MatchesBruteForceWithTies) {
  // Codebooks smaller than one vector step, with a partial last step, and larger than one column
  // tile (8,192 words); duplicated centroids tie, also across tiles.
  for (const int64_t k : {5, 40, 1003, 8200}) {
    std::mt19937 rng(static_cast<unsigned>(1 + k));
    const int64_t n = 300, d = 8;
    std::vector<float> c = integer_matrix(k, d, rng);
    std::copy_n(c.begin(), d, c.begin() + (k - 1) * d);  // the last centroid duplicates the first
    if (k > 8192) std::copy_n(c.begin() + 3 * d, d, c.begin() + 8195 * d);
    const std::vector<float> x = integer_matrix(n, d, rng);
    for (int ma : {1, 2, 5}) {
      if (ma > k) continue;
      std::vector<int32_t> idx(static_cast<size_t>(n * ma));
      std::vector<float> dist(static_cast<size_t>(n * ma));
      // One to three workers, each with its share of the 300 rows.
      for (int threads : {1, 2, 3}) {
        nearest_centroids(x.data(), n, c.data(), row_norms(c.data(), k, d), k, d, ma, idx.data(),
                          dist.data(), threads);
        EXPECT_EQ(idx, reference_assign(x, n, c, k, d, ma))
            << "k " << k << " ma " << ma << " threads " << threads;
      }
    }
  }
}

// A query's rows are split among the threads, each part with its own product: every row's words
// and distances are the same bits whatever the split (a search ranks the same on any thread
// count, and a service may give a query one thread or two depending on its load).
TEST(NearestCentroids, SameBitsWhateverTheThreadCount) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  const int64_t n = 700, k = 1024, d = 128;
  std::vector<float> x(static_cast<size_t>(n * d)), c(static_cast<size_t>(k * d));
  for (float& v : x) v = normal(rng);
  for (float& v : c) v = normal(rng);
  const std::vector<float> norms = row_norms(c.data(), k, d);
  std::vector<int32_t> idx1(static_cast<size_t>(n * 5)), idx(idx1.size());
  std::vector<float> dist1(idx1.size()), dist(idx1.size());
  nearest_centroids(x.data(), n, c.data(), norms, k, d, 5, idx1.data(), dist1.data(), 1);
  for (int threads : {2, 3, 8}) {
    nearest_centroids(x.data(), n, c.data(), norms, k, d, 5, idx.data(), dist.data(), threads);
    EXPECT_EQ(idx, idx1) << threads << " threads";
    EXPECT_EQ(dist, dist1) << threads << " threads";
  }
}

TEST(EncodeImages, GivesEachImageWhatEncodingItAloneGives) {
  // 70 images of 250-330 descriptors: more rows than one quantization block (16,384), so images
  // fall on both sides of a block boundary; once in one array, once scattered.
  std::mt19937 rng(3);
  const int64_t k = 64, d = 16;
  const Codebook codebook = Codebook::from_centroids(integer_matrix(k, d, rng), k, d);
  std::vector<std::vector<float>> images;
  std::vector<float> together;
  for (int i = 0; i < 70; ++i) {
    images.push_back(integer_matrix(250 + (i * 37) % 81, d, rng));
    together.insert(together.end(), images.back().begin(), images.back().end());
  }
  std::vector<DescriptorRange> contiguous, scattered;
  int64_t row = 0;
  for (const std::vector<float>& x : images) {
    const int64_t n = static_cast<int64_t>(x.size()) / d;
    contiguous.push_back({together.data() + row * d, n, d});
    scattered.push_back({x.data(), n, d});
    row += n;
  }
  const auto name = [](size_t i) { return "image " + std::to_string(i); };
  for (const int ma : {1, 3}) {
    for (const bool binary : {true, false}) {
      int64_t reported = 0;
      const std::vector<AggregatedImage> a = encode_images(codebook, contiguous, ma, binary, 2,
                                                           name, [&](int64_t done, int64_t total) {
                                                             EXPECT_GT(done, reported);
                                                             EXPECT_EQ(total, 70);
                                                             reported = done;
                                                           });
      EXPECT_EQ(reported, 70);
      const std::vector<AggregatedImage> b =
          encode_images(codebook, scattered, ma, binary, 1, name);
      ASSERT_EQ(a.size(), images.size());
      ASSERT_EQ(b.size(), images.size());
      for (size_t i = 0; i < images.size(); ++i) {
        const AggregatedImage alone =
            encode_features(codebook, images[i].data(), scattered[i].count, d, ma, binary, 1, "x");
        EXPECT_EQ(a[i].words, alone.words) << i;
        EXPECT_EQ(a[i].codes, alone.codes) << i;
        EXPECT_EQ(a[i].vectors, alone.vectors) << i;
        EXPECT_EQ(b[i].words, alone.words) << i;
        EXPECT_EQ(b[i].codes, alone.codes) << i;
        EXPECT_EQ(b[i].vectors, alone.vectors) << i;
      }
    }
  }
  // An image without descriptors (one left out as unreadable) encodes to no words; the others
  // are unchanged.
  scattered[41].count = 0;
  const std::vector<AggregatedImage> with_empty =
      encode_images(codebook, scattered, 1, true, 2, name);
  EXPECT_EQ(with_empty[41].count(), 0);
  EXPECT_EQ(with_empty[41].dim, d);
  EXPECT_EQ(with_empty[40].words, encode_images(codebook, scattered, 1, true, 1, name)[40].words);
  EXPECT_GT(with_empty[40].count(), 0);
  scattered[41].count = -1;
  test::expect_error([&] { encode_images(codebook, scattered, 1, true, 2, name); },
                     {"image 41", "-1 local features"});
}

TEST(DescriptorValues, NanInfAndHugeValuesAreErrorsNamingRowAndColumn) {
  std::vector<float> x(4 * 3, 0.5f);
  check_descriptor_values(x.data(), 4, 3, "fine");
  x[7] = std::numeric_limits<float>::quiet_NaN();
  test::expect_error([&] { check_descriptor_values(x.data(), 4, 3, "q.npy"); },
                     {"q.npy", "descriptor 2", "column 1", "finite"});
  x[7] = 1e30f;  // finite, but its square does not fit a float: k-means used to crash on it
  KMeansOptions options;
  options.k = 2;
  test::expect_error([&] { train_kmeans(x.data(), 4, 3, options); },
                     {"k-means training descriptors", "descriptor 2"});
  x[7] = -std::numeric_limits<float>::infinity();
  const std::vector<float> centroids = {0, 0, 0, 1, 1, 1};
  const Codebook codebook = Codebook::from_centroids(centroids, 2, 3);
  test::expect_error([&] { encode_features(codebook, x.data(), 4, 3, 1, true, 1, "query 'q'"); },
                     {"query 'q'", "descriptor 2", "column 1"});

  // Past the first blocks the values are tested in bulk: the first offender is still the one
  // named, in a later block, in the last whole one, or in the values after it (3,001 x 128 is 375
  // blocks of 1,024 and 128 values).
  std::vector<float> many(3001 * 128, -1e16f);  // the largest magnitude allowed
  check_descriptor_values(many.data(), 3001, 128, "many");
  for (int64_t at : {int64_t{1024 * 3 + 17}, int64_t{375 * 1024 - 1}, int64_t{3000 * 128 + 127}}) {
    std::vector<float> y = many;
    y[static_cast<size_t>(at)] = std::numeric_limits<float>::infinity();
    if (at + 1 < static_cast<int64_t>(y.size())) {  // later offenders do not matter
      y[static_cast<size_t>(at + 1)] = std::numeric_limits<float>::quiet_NaN();
      y.back() = 2e16f;
    }
    test::expect_error([&] { check_descriptor_values(y.data(), 3001, 128, "many.npy"); },
                       {"descriptor " + std::to_string(at / 128) + " holds inf at column " +
                        std::to_string(at % 128)});
  }
}

TEST(KMeans, FindsSeparatedClustersDeterministically) {
  std::mt19937 rng(2);
  const int64_t k = 6, d = 4, per = 200;
  std::normal_distribution<float> noise(0.0f, 0.1f);
  std::vector<float> centers = integer_matrix(k, d, rng, 10);
  std::vector<float> x;
  for (int64_t c = 0; c < k; ++c) {
    for (int64_t i = 0; i < per; ++i) {
      for (int64_t t = 0; t < d; ++t)
        x.push_back(centers[static_cast<size_t>(c * d + t)] + noise(rng));
    }
  }
  KMeansOptions options;
  options.k = k;
  options.iterations = 20;
  options.seed = 5;
  const KMeansResult a = train_kmeans(x.data(), k * per, d, options);
  const KMeansResult b = train_kmeans(x.data(), k * per, d, options);
  EXPECT_EQ(a.centroids, b.centroids);
  ASSERT_EQ(a.objective.size(), 20u);
  EXPECT_LE(a.objective.back(), a.objective.front());
  for (size_t i = 1; i < a.objective.size(); ++i)
    EXPECT_LE(a.objective[i], a.objective[i - 1] * (1 + 1e-6));
  // Either every true center is found (objective ~ n d sigma^2 = 48), or k-means sits in a local
  // minimum whose objective is far larger: random restarts are not part of the method.
  int found = 0;
  for (int64_t c = 0; c < k; ++c) {
    double best = 1e9;
    for (int64_t j = 0; j < k; ++j) {
      double dist = 0;
      for (int64_t t = 0; t < d; ++t)
        dist += std::pow(
            a.centroids[static_cast<size_t>(j * d + t)] - centers[static_cast<size_t>(c * d + t)],
            2);
      best = std::min(best, dist);
    }
    found += best < 0.01;
  }
  if (found == k) {
    EXPECT_LT(a.objective.back(), 100);
  }
  EXPECT_GE(found, k - 2);
  options.max_points_per_centroid = 10;
  EXPECT_EQ(train_kmeans(x.data(), k * per, d, options).training_points, k * 10);
  options.k = 5000;
  test::expect_error([&] { train_kmeans(x.data(), k * per, d, options); },
                     {"1200 descriptors for 5000 words"});
}

TEST(Aggregate, ResidualSumsPerWordThenBitsOrUnitVectors) {
  // Two words in 2-d: c0 = (0, 0), c1 = (10, 10). Descriptors (1, -3), (2, 1) go to c0; (9, 12) to
  // c1.
  const std::vector<float> c = {0, 0, 10, 10};
  const std::vector<float> x = {1, -3, 2, 1, 9, 12};
  const std::vector<int32_t> words = {0, 0, 1};
  const AggregatedImage binary = aggregate(x.data(), 3, 2, words.data(), 1, c.data(), 2, true);
  EXPECT_EQ(binary.words, (std::vector<int32_t>{0, 1}));
  // word 0: (3, -2) -> bits 1, 0 ; word 1: (-1, 2) -> bits 0, 1.
  EXPECT_EQ(binary.codes, (std::vector<uint8_t>{0b01, 0b10}));
  const AggregatedImage real = aggregate(x.data(), 3, 2, words.data(), 1, c.data(), 2, false);
  EXPECT_NEAR(real.vectors[0], 3 / (std::sqrt(13.0) + 1e-6), 1e-6);
  EXPECT_NEAR(real.vectors[3], 2 / (std::sqrt(5.0) + 1e-6), 1e-6);
  // With two assignments per descriptor, each counts toward both words.
  const std::vector<int32_t> both = {0, 1, 0, 1, 1, 0};
  const AggregatedImage multi = aggregate(x.data(), 3, 2, both.data(), 2, c.data(), 2, false);
  // word 0: (1,-3)+(2,1)+(9,12) = (12, 10); word 1: -30 + 12 = (-18, -20).
  EXPECT_NEAR(multi.vectors[0] / multi.vectors[1], 1.2, 1e-6);
  EXPECT_NEAR(multi.vectors[2] / multi.vectors[3], 0.9, 1e-6);
}

// aggregate() sums residuals eight dimensions at a time and orders the pairs by a counting sort for
// small codebooks or a sorted key list for large ones; both must give, bit for bit, what a plain
// loop over the descriptors in ascending order gives (the order fixes the double rounding).
TEST(Aggregate, EveryOrderingAndWidthMatchesAPlainLoop) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  for (int64_t d : {5, 8, 13, 128}) {
    for (int64_t k : {3, 64, 100000}) {  // 100000 > 4 x pairs: the sorted-key path
      for (int ma : {1, 3}) {
        const int64_t n = 40;
        std::vector<float> x(static_cast<size_t>(n * d)), c(static_cast<size_t>(k * d));
        for (float& v : x) v = normal(rng);
        for (float& v : c) v = normal(rng) * 0.1f;
        std::vector<int32_t> words(static_cast<size_t>(n * ma));
        std::uniform_int_distribution<int32_t> word(
            0, static_cast<int32_t>(std::min<int64_t>(k, 20) - 1));
        for (int32_t& w : words) w = word(rng);
        std::map<int32_t, std::vector<double>> sums;
        for (int64_t i = 0; i < n; ++i)
          for (int a = 0; a < ma; ++a) {
            const int32_t w = words[static_cast<size_t>(i * ma + a)];
            auto& sum = sums.try_emplace(w, static_cast<size_t>(d), 0.0).first->second;
            for (int64_t t = 0; t < d; ++t)
              sum[static_cast<size_t>(t)] +=
                  static_cast<double>(x[static_cast<size_t>(i * d + t)]) -
                  c[static_cast<size_t>(w * d + t)];
          }
        const AggregatedImage bits = aggregate(x.data(), n, d, words.data(), ma, c.data(), k, true);
        const AggregatedImage unit =
            aggregate(x.data(), n, d, words.data(), ma, c.data(), k, false);
        ASSERT_EQ(bits.count(), static_cast<int64_t>(sums.size())) << d << " " << k << " " << ma;
        size_t g = 0;
        for (const auto& [w, sum] : sums) {
          ASSERT_EQ(bits.words[g], w);
          ASSERT_EQ(unit.words[g], w);
          double norm = 0;
          for (double v : sum) norm += v * v;
          norm = std::sqrt(norm) + 1e-6;
          for (int64_t t = 0; t < d; ++t) {
            const bool bit = (bits.codes[g * static_cast<size_t>(bits.code_bytes()) +
                                         static_cast<size_t>(t / 8)] >>
                              (t % 8)) &
                             1;
            EXPECT_EQ(bit, sum[static_cast<size_t>(t)] > 0)
                << "d " << d << " k " << k << " t " << t;
            EXPECT_EQ(unit.vectors[g * static_cast<size_t>(d) + static_cast<size_t>(t)],
                      static_cast<float>(sum[static_cast<size_t>(t)] / norm));
          }
          ++g;
        }
      }
    }
  }
}

// The reference: per image and word, residual sums from the descriptors directly; scores summed
// over every word; no inverted file.
struct Reference {
  int64_t k, d;
  bool binary;
  std::vector<float> c;
  std::map<int32_t, std::vector<double>> vectors(const std::vector<float>& x, int64_t n,
                                                 int ma) const {
    const std::vector<int32_t> a = reference_assign(x, n, c, k, d, ma);
    std::map<int32_t, std::vector<double>> out;
    for (int64_t i = 0; i < n; ++i) {
      for (int m = 0; m < ma; ++m) {
        const int32_t w = a[static_cast<size_t>(i * ma + m)];
        auto& v = out[w];
        v.resize(static_cast<size_t>(d), 0.0);
        for (int64_t t = 0; t < d; ++t)
          v[static_cast<size_t>(t)] += static_cast<double>(x[static_cast<size_t>(i * d + t)]) -
                                       c[static_cast<size_t>(w * d + t)];
      }
    }
    return out;
  }
  double similarity(const std::vector<double>& q, const std::vector<double>& v) const {
    if (binary) {
      int differ = 0;
      for (int64_t t = 0; t < d; ++t)
        differ += (q[static_cast<size_t>(t)] > 0) != (v[static_cast<size_t>(t)] > 0);
      return 1.0 - 2.0 * differ / static_cast<double>(d);
    }
    double qn = 0, vn = 0, dot = 0;
    for (int64_t t = 0; t < d; ++t) {
      qn += q[static_cast<size_t>(t)] * q[static_cast<size_t>(t)];
      vn += v[static_cast<size_t>(t)] * v[static_cast<size_t>(t)];
      dot += q[static_cast<size_t>(t)] * v[static_cast<size_t>(t)];
    }
    return dot / ((std::sqrt(qn) + 1e-6) * (std::sqrt(vn) + 1e-6));
  }
};

class InvertedFileEquivalence
    : public ::testing::TestWithParam<std::tuple<bool, int, bool, int64_t>> {};

TEST_P(InvertedFileEquivalence, EveryScoreMatchesTheReference) {
  const auto [binary, query_ma, use_idf, d] = GetParam();
  std::mt19937 rng(static_cast<unsigned>(7 + query_ma + d + binary * 3 + use_idf * 11));
  const int64_t k = 24, images = 25;
  Reference ref{k, d, binary, integer_matrix(k, d, rng)};
  std::vector<std::vector<float>> db;
  for (int64_t i = 0; i < images; ++i) db.push_back(integer_matrix(3 + i % 5, d, rng));
  db[7] = db[3];  // identical images tie
  InvertedFile ivf(k, d, binary, 42);
  for (int64_t i = 0; i < images; ++i) {
    ivf.add(i, aggregate_with(db[static_cast<size_t>(i)],
                              static_cast<int64_t>(db[static_cast<size_t>(i)].size()) / d, ref.c, k,
                              d, 1, binary));
  }
  ivf.finalize();
  SearchOptions params;
  params.use_idf = use_idf;
  params.similarity_threshold = binary ? 0.0 : -0.2;
  const SearchContext context = ivf.context(params);
  // Reference idf and image norms.
  std::vector<std::map<int32_t, std::vector<double>>> db_vectors;
  std::map<int32_t, int> postings;
  for (int64_t i = 0; i < images; ++i) {
    db_vectors.push_back(ref.vectors(db[static_cast<size_t>(i)],
                                     static_cast<int64_t>(db[static_cast<size_t>(i)].size()) / d,
                                     1));
    for (const auto& [w, v] : db_vectors.back()) ++postings[w];
  }
  const auto idf = [&](int32_t w) {
    if (!use_idf) return 1.0;
    return postings.count(w) ? std::pow(std::log(static_cast<double>(images) / postings[w]), 2)
                             : 0.0;
  };
  for (int q = 0; q < 6; ++q) {
    const std::vector<float> query = q == 0 ? db[3] : integer_matrix(4 + q, d, rng);
    const int64_t n = static_cast<int64_t>(query.size()) / d;
    const std::vector<float> got =
        ivf.scores(aggregate_with(query, n, ref.c, k, d, query_ma, binary), params, context);
    const auto q_vectors = ref.vectors(query, n, query_ma);
    double q_norm = 0;
    for (const auto& [w, v] : q_vectors) q_norm += idf(w);
    for (int64_t i = 0; i < images; ++i) {
      double score = 0, norm = 0;
      for (const auto& [w, v] : db_vectors[static_cast<size_t>(i)]) {
        norm += idf(w);
        const auto it = q_vectors.find(w);
        if (it == q_vectors.end()) continue;
        const double s = ref.similarity(it->second, v);
        if (s >= params.similarity_threshold) score += idf(w) * std::pow(s, params.alpha);
      }
      const double expected =
          (norm > 0 && q_norm > 0) ? score / std::sqrt(norm) / std::sqrt(q_norm) : 0.0;
      EXPECT_NEAR(got[static_cast<size_t>(i)], expected, 1e-5) << "query " << q << " image " << i;
    }
    EXPECT_EQ(got[3], got[7]);
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, InvertedFileEquivalence,
                         ::testing::Combine(::testing::Bool(), ::testing::Values(1, 5),
                                            ::testing::Bool(),
                                            ::testing::Values<int64_t>(16, 128)));

// Long postings, scanned on one thread and split over several: every score equals, bit for bit,
// the scan written out here in the same float operations and order.
TEST(InvertedFileScan, LongPostingsScoreExactlyAsTheScalarScan) {
  // About 340,000 entries scanned: enough to split the scan over up to five threads by image id.
  const int64_t words = 40, images = 40001, d = 128;
  SplitMix64 random(5);
  std::vector<std::vector<int32_t>> image_words(static_cast<size_t>(images));
  std::vector<std::vector<std::pair<uint32_t, std::array<uint8_t, 16>>>> postings(words);
  for (int64_t i = 0; i < images; ++i) {
    for (int32_t w = 0; w < words; ++w) {
      // Denser among the first ids, so that where an id sits in a list is not where an even spread
      // would put it; some images without words.
      if (random.below(i < 8000 ? 2 : 6) != 0 || (i % 97 == 0)) continue;
      std::array<uint8_t, 16> code;
      for (uint8_t& b : code) b = static_cast<uint8_t>(random.below(256));
      postings[static_cast<size_t>(w)].push_back({static_cast<uint32_t>(i), code});
      image_words[static_cast<size_t>(i)].push_back(w);
    }
  }
  std::vector<uint64_t> offsets{0};
  std::vector<uint32_t> ids;
  std::vector<uint8_t> codes;
  std::vector<uint32_t> counts;
  for (const auto& list : postings) {
    for (const auto& [id, code] : list) {
      ids.push_back(id);
      codes.insert(codes.end(), code.begin(), code.end());
    }
    offsets.push_back(ids.size());
  }
  for (const auto& w : image_words) counts.push_back(static_cast<uint32_t>(w.size()));
  const InvertedFile ivf =
      InvertedFile::from_postings(words, d, true, 9, offsets, ids, codes, counts);
  AggregatedImage query;
  query.dim = d;
  query.binary = true;
  for (int32_t w = 0; w < words; ++w) {
    if (w % 7 == 3) continue;  // some words the query lacks
    query.words.push_back(w);
    for (int b = 0; b < 16; ++b) query.codes.push_back(static_cast<uint8_t>(random.below(256)));
  }
  SearchOptions params;
  params.similarity_threshold = -0.1;
  const SearchContext context = ivf.context(params);
  const std::vector<float> got = ivf.scores(query, params, context);
  // Split by image ranges, every image's score is the same sum in the same order.
  for (int threads : {2, 3, 5, 64}) {
    EXPECT_EQ(ivf.scores(query, params, context, threads), got) << threads << " threads";
  }
  // Scored together with other queries (word sets overlapping in part, one without words), each
  // query's scores are still its own, bit for bit.
  AggregatedImage other = query, sparse = query, empty = query;
  other.codes.assign(other.codes.size(), 0);
  for (uint8_t& b : other.codes) b = static_cast<uint8_t>(random.below(256));
  sparse.words.clear();
  sparse.codes.clear();
  for (size_t i = 0; i < query.words.size(); i += 4) {
    sparse.words.push_back(query.words[i]);
    sparse.codes.insert(sparse.codes.end(), query.codes.begin() + static_cast<long>(i * 16),
                        query.codes.begin() + static_cast<long>(i * 16 + 16));
  }
  empty.words.clear();
  empty.codes.clear();
  const std::vector<const AggregatedImage*> group{&other, &query, &empty, &sparse};
  for (int threads : {1, 3}) {
    const std::vector<std::vector<float>> together = ivf.scores(group, params, context, threads);
    ASSERT_EQ(together.size(), group.size());
    for (size_t q = 0; q < group.size(); ++q)
      EXPECT_EQ(together[q], ivf.scores(*group[q], params, context)) << "query " << q;
  }

  std::vector<float> weight(d + 1);
  for (int64_t h = 0; h <= d; ++h) {
    const double s = 1.0 - 2.0 * static_cast<double>(h) / static_cast<double>(d);
    weight[static_cast<size_t>(h)] =
        static_cast<float>(s >= params.similarity_threshold ? std::pow(s, params.alpha) : 0.0);
  }
  std::vector<float> expected(static_cast<size_t>(images), 0.0f);
  for (size_t i = 0; i < query.words.size(); ++i) {
    const int32_t w = query.words[i];
    for (uint64_t e = offsets[static_cast<size_t>(w)]; e < offsets[static_cast<size_t>(w) + 1];
         ++e) {
      int h = 0;
      for (int b = 0; b < 16; ++b)
        h += __builtin_popcount(static_cast<unsigned>(query.codes[i * 16 + static_cast<size_t>(b)] ^
                                                      codes[e * 16 + static_cast<size_t>(b)]));
      expected[ids[e]] += weight[static_cast<size_t>(h)];
    }
  }
  const float query_scale =
      static_cast<float>(1.0 / std::sqrt(static_cast<double>(query.words.size())));
  for (int64_t i = 0; i < images; ++i) {
    const uint32_t n = counts[static_cast<size_t>(i)];
    const float image_scale = n ? static_cast<float>(1.0 / std::sqrt(static_cast<double>(n))) : 0;
    expected[static_cast<size_t>(i)] *= image_scale * query_scale;
    ASSERT_EQ(got[static_cast<size_t>(i)], expected[static_cast<size_t>(i)]) << "image " << i;
  }
}

class RankQueries : public ::testing::TestWithParam<int64_t> {};

// 40 images: every list sorted by comparisons; 400: the full rankings by their counting sort.
INSTANTIATE_TEST_SUITE_P(Images, RankQueries, ::testing::Values(40, 400));

TEST_P(RankQueries, OrderIsAFullSortOfTheScoresTiesToTheLowerIndex) {
  // tau = -1 and alpha 3 give negative scores beside the zero scores of images sharing no word with
  // the query and the positive ones: the ranking must be the full sort for any topk.
  std::mt19937 rng(5);
  const int64_t k = 24, d = 16, images = GetParam();
  const std::vector<float> c = integer_matrix(k, d, rng);
  InvertedFile ivf(k, d, true, 42);
  for (int64_t i = 0; i < images; ++i)
    ivf.add(i, aggregate_with(integer_matrix(1 + i % 3, d, rng), 1 + i % 3, c, k, d, 1, true));
  ivf.add(images, aggregate_with(integer_matrix(2, d, rng), 2, c, k, d, 1, true));
  ivf.finalize();
  SearchOptions params;
  params.similarity_threshold = -1;
  std::vector<AggregatedImage> queries;
  for (int q = 0; q < 5; ++q)
    queries.push_back(aggregate_with(integer_matrix(3, d, rng), 3, c, k, d, 2, true));
  const SearchContext context = ivf.context(params);
  bool saw_negative = false, saw_zero = false;
  for (const int64_t topk : {int64_t{1}, int64_t{7}, images + 1}) {
    const SearchRanking lists = rank_queries(ivf, queries, params, topk, 2);
    for (int64_t q = 0; q < 5; ++q) {
      const std::vector<float> s = ivf.scores(queries[static_cast<size_t>(q)], params, context);
      std::vector<int64_t> order(s.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
      std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
        return s[static_cast<size_t>(a)] > s[static_cast<size_t>(b)];
      });
      for (float v : s) {
        saw_negative |= v < 0;
        saw_zero |= v == 0;
      }
      for (int64_t r = 0; r < topk; ++r) {
        EXPECT_EQ(lists.images[static_cast<size_t>(q * topk + r)], order[static_cast<size_t>(r)])
            << "topk " << topk << " query " << q << " rank " << r;
        EXPECT_EQ(lists.scores[static_cast<size_t>(q * topk + r)],
                  s[static_cast<size_t>(order[static_cast<size_t>(r)])]);
      }
    }
  }
  EXPECT_TRUE(saw_negative);
  EXPECT_TRUE(saw_zero);
}

// Images added to an index go to a tail of per-word lists and are folded into the compact postings
// once the tail holds a quarter as many entries. Wherever an image lies, every score is
// bit-identical (on any number of threads) to an index that got all of its images in one batch,
// and the saved file is byte-identical.
TEST(InvertedFileTail, ScoresAndFilesAreThoseOfOneBatchWhereverTheImagesLie) {
  const int64_t words = 40, d = 128, images = 36000;
  SplitMix64 random(11);
  std::vector<AggregatedImage> db(static_cast<size_t>(images));
  for (int64_t i = 0; i < images; ++i) {
    AggregatedImage& image = db[static_cast<size_t>(i)];
    image.dim = d;
    if (i % 101 == 0) continue;  // some images without words
    for (int32_t w = 0; w < words; ++w) {
      if (random.below(3) != 0) continue;
      image.words.push_back(w);
      for (int b = 0; b < 16; ++b) image.codes.push_back(static_cast<uint8_t>(random.below(256)));
    }
  }
  AggregatedImage query;
  query.dim = d;
  for (int32_t w = 0; w < words; ++w) {
    if (w % 5 == 2) continue;
    query.words.push_back(w);
    for (int b = 0; b < 16; ++b) query.codes.push_back(static_cast<uint8_t>(random.below(256)));
  }
  SearchOptions params;
  params.similarity_threshold = -0.1;
  const auto one_batch = [&](int64_t n) {
    InvertedFile ivf(words, d, true, 9);
    for (int64_t i = 0; i < n; ++i) ivf.add(i, db[static_cast<size_t>(i)]);
    ivf.finalize();
    EXPECT_EQ(ivf.stats().tail_entries, 0);
    return ivf;
  };
  test::TempDir dir;
  const auto expect_same = [&](const InvertedFile& grown, int64_t n) {
    const InvertedFile want = one_batch(n);
    ASSERT_EQ(grown.images(), n);
    EXPECT_EQ(grown.entries(), want.entries());
    for (int32_t w = 0; w < words; ++w) EXPECT_EQ(grown.postings(w), want.postings(w));
    const std::vector<float> want_scores = want.scores(query, params, want.context(params));
    for (int threads : {1, 2, 5})
      EXPECT_EQ(grown.scores(query, params, grown.context(params), threads), want_scores)
          << n << " images, " << threads << " threads";
    grown.save(dir.path("grown.ivf"));
    want.save(dir.path("want.ivf"));
    EXPECT_EQ(read_file_text(dir.path("grown.ivf")), read_file_text(dir.path("want.ivf"))) << n;
  };
  InvertedFile grown = one_batch(26000);
  bool compacted = false;
  for (int64_t i = 26000; i < images; ++i) {  // one image at a time, as a live index gets them
    const int64_t tail_before = grown.stats().tail_entries;
    grown.add(i, db[static_cast<size_t>(i)]);
    grown.finalize();
    const int64_t tail = grown.stats().tail_entries;
    if (tail < tail_before) {
      compacted = true;
      EXPECT_EQ(tail, 0);
      EXPECT_GT(tail_before * 4 + static_cast<int64_t>(db[static_cast<size_t>(i)].count()) * 4,
                grown.entries() - tail_before - db[static_cast<size_t>(i)].count());
    }
    if (i + 1 == 26001 || i + 1 == 30000) {
      EXPECT_GT(tail, 0) << "image " << i << " should still be in the tail";
      expect_same(grown, i + 1);
    }
  }
  EXPECT_TRUE(compacted);
  expect_same(grown, images);
}

class IndexFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    std::mt19937 rng(9);
    centroids_ = integer_matrix(k_, d_, rng);
    for (int i = 0; i < 20; ++i)
      images_.push_back(aggregate_with(integer_matrix(6, d_, rng), 6, centroids_, k_, d_, 1, true));
    query_ = aggregate_with(integer_matrix(8, d_, rng), 8, centroids_, k_, d_, 5, true);
  }
  InvertedFile build(int from, int to) const {
    InvertedFile ivf(k_, d_, true, codebook_fingerprint(centroids_));
    for (int i = from; i < to; ++i) ivf.add(i, images_[static_cast<size_t>(i)]);
    ivf.finalize();
    return ivf;
  }
  std::vector<float> scores(const InvertedFile& ivf) const {
    const SearchOptions params;
    return ivf.scores(query_, params, ivf.context(params));
  }
  const int64_t k_ = 32, d_ = 128;
  std::vector<float> centroids_;
  std::vector<AggregatedImage> images_;
  AggregatedImage query_;
  test::TempDir dir_;
};

TEST_F(IndexFiles, SaveLoadAppendAndMergeGiveTheSameScores) {
  const InvertedFile full = build(0, 20);
  const std::vector<float> want = scores(full);
  full.save(dir_.path("full.ivf"));
  const InvertedFile loaded = InvertedFile::load(dir_.path("full.ivf"));
  EXPECT_EQ(scores(loaded), want);
  EXPECT_EQ(loaded.stats().entries, full.stats().entries);
  EXPECT_GT(loaded.stats().file_bytes, 0);

  build(0, 10).save(dir_.path("first.ivf"));
  InvertedFile appended = InvertedFile::load(dir_.path("first.ivf"));
  for (int i = 10; i < 20; ++i) appended.add(i, images_[static_cast<size_t>(i)]);
  appended.finalize();
  EXPECT_EQ(scores(appended), want);

  InvertedFile merged = build(10, 20);
  merged.merge(build(0, 10), "shard 0");
  EXPECT_EQ(scores(merged), want);

  // Added one at a time to a memory-mapped index, the images stay in its tail (stats say so), and
  // merging, appending, removing and saving see them there.
  InvertedFile live = InvertedFile::load(dir_.path("first.ivf"));
  live.add(10, images_[10]);
  live.finalize();
  ASSERT_GT(live.stats().tail_entries, 0);
  ASSERT_EQ(live.stats().entries, build(0, 11).stats().entries);
  InvertedFile shard = build(11, 20);
  shard.merge(live, "live shard");
  EXPECT_EQ(scores(shard), want);
  InvertedFile tail_of_ten(k_, d_, true, codebook_fingerprint(centroids_));
  for (int i = 0; i < 10; ++i) tail_of_ten.add(i, images_[static_cast<size_t>(i)]);
  tail_of_ten.finalize();
  tail_of_ten.add(10, images_[10]);
  tail_of_ten.finalize();
  ASSERT_GT(tail_of_ten.stats().tail_entries, 0);
  InvertedFile head = build(0, 9);
  head.add(9, images_[9]);
  head.finalize();
  head.append(tail_of_ten, "tail");  // ids 10..20 become the other's 0..10
  EXPECT_EQ(head.images(), 21);
  head.remove({3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20});
  live.remove({3});
  EXPECT_EQ(live.stats().tail_entries, 0);
  live.save(dir_.path("live.ivf"));
  EXPECT_EQ(InvertedFile::load(dir_.path("live.ivf")).images(), 10);
  InvertedFile without3 = build(0, 11);
  without3.remove({3});
  EXPECT_EQ(scores(live), scores(without3));
  EXPECT_EQ(scores(head), scores(build(0, 3)));
  test::expect_error([&] { merged.merge(build(5, 12), "shard x"); },
                     {"shard x", "overlapping shards", "image 5"});
  test::expect_error([&] { appended.add(3, images_[3]); }, {"image id 3"});
}

TEST_F(IndexFiles, TruncatedForeignAndCorruptFilesAreErrors) {
  build(0, 20).save(dir_.path("full.ivf"));
  const std::vector<uint8_t> bytes = read_file_bytes(dir_.path("full.ivf"));
  write_file_atomic(dir_.path("cut.ivf"), std::string(bytes.begin(), bytes.end() - 100));
  test::expect_error([&] { InvertedFile::load(dir_.path("cut.ivf")); }, {"cut.ivf", "truncated"});
  std::vector<uint8_t> flipped = bytes;
  flipped[bytes.size() / 2] ^= 1;
  write_file_atomic(dir_.path("flipped.ivf"), std::string(flipped.begin(), flipped.end()));
  test::expect_error([&] { InvertedFile::load(dir_.path("flipped.ivf")); },
                     {"flipped.ivf", "checksum"});
  write_file_atomic(dir_.path("foreign.ivf"), std::string(200, 'x'));
  test::expect_error([&] { InvertedFile::load(dir_.path("foreign.ivf")); },
                     {"foreign.ivf", "magic"});
  test::expect_error([&] { InvertedFile::load(dir_.path("none.ivf")); }, {"none.ivf"});
}

TEST_F(IndexFiles, DimensionAndCodebookMismatchesAreErrors) {
  const InvertedFile ivf = build(0, 5);
  std::mt19937 rng(3);
  const std::vector<float> other = integer_matrix(k_, 64, rng);
  const AggregatedImage wrong =
      aggregate_with(integer_matrix(4, 64, rng), 4, other, k_, 64, 1, true);
  const SearchOptions params;
  test::expect_error([&] { ivf.scores(wrong, params, ivf.context(params)); }, {"64-d", "128-d"});
  InvertedFile foreign(k_, d_, true, 7);
  test::expect_error([&] { foreign.merge(ivf, "a.ivf"); }, {"a.ivf", "another codebook"});
}

}  // namespace
}  // namespace mda
