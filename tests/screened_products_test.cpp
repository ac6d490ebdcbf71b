// The int8-screened nearest centroids: the same words as brute force in double, on data built
// so that the int8 products alone would choose wrongly, at every magnitude and shape.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "mda/asmk/matrix.h"
#include "mda/asmk/screened_products.h"

namespace mda {
namespace {

// Chooses the product method for one test and restores the default after it.
class ProductMethodScope {
 public:
  explicit ProductMethodScope(ProductMethod method) { set_product_method(method); }
  ~ProductMethodScope() { set_product_method(ProductMethod::kAuto); }
};

struct Assignment {
  std::vector<int32_t> words;
  std::vector<float> distances;
};

Assignment assign(const std::vector<float>& x, const std::vector<float>& c, int64_t d, int count,
                  int threads = 1) {
  const int64_t n = static_cast<int64_t>(x.size()) / d, k = static_cast<int64_t>(c.size()) / d;
  Assignment a;
  a.words.resize(static_cast<size_t>(n * count));
  a.distances.resize(a.words.size());
  nearest_centroids(x.data(), n, c.data(), row_norms(c.data(), k, d), k, d, count, a.words.data(),
                    a.distances.data(), threads);
  return a;
}

// Brute force in double: each row's `count` nearest words, nearest first, ties to the lower index.
Assignment reference(const std::vector<float>& x, const std::vector<float>& c, int64_t d,
                     int count) {
  const int64_t n = static_cast<int64_t>(x.size()) / d, k = static_cast<int64_t>(c.size()) / d;
  Assignment a;
  for (int64_t i = 0; i < n; ++i) {
    std::vector<std::pair<double, int32_t>> all;
    for (int64_t j = 0; j < k; ++j) {
      double s = 0;
      for (int64_t t = 0; t < d; ++t) {
        const double diff = static_cast<double>(x[static_cast<size_t>(i * d + t)]) -
                            static_cast<double>(c[static_cast<size_t>(j * d + t)]);
        s += diff * diff;
      }
      all.emplace_back(s, static_cast<int32_t>(j));
    }
    std::sort(all.begin(), all.end());
    for (int r = 0; r < count; ++r) {
      a.words.push_back(all[static_cast<size_t>(r)].second);
      a.distances.push_back(static_cast<float>(all[static_cast<size_t>(r)].first));
    }
  }
  return a;
}

// A descriptor whose int8 product with itself is as pessimistic as rounding allows: its largest
// component sets the step, and every other one lies just below a half step, so it rounds down
// (its distance to itself, 0, looks like 2 * 63 * 0.49 * 126 steps^2 away). Its true
// neighbours lie on the int8 grid, where the product is exact, and look closer than it.
TEST(ScreenedProducts, FindTheNearestWordWhenItsInt8ProductIsMostPessimistic) {
  const ProductMethodScope method(ProductMethod::kInt8Screened);
  const int64_t d = 64;
  std::mt19937 rng(5);
  for (const float unit : {1.0f, 0.01f, 3e-7f, 2e12f}) {
    std::vector<float> target(static_cast<size_t>(d), 126.49f * unit);
    target[0] = 127 * unit;
    std::vector<float> c;
    // 40 grid neighbours, each with one component lowered by a different amount (no ties), then
    // the target itself, then 300 random words far away.
    for (int m = 0; m < 40; ++m) {
      std::vector<float> word(static_cast<size_t>(d), 126 * unit);
      word[0] = 127 * unit;
      word[static_cast<size_t>(1 + m % (d - 1))] = static_cast<float>(125 - m) * unit;
      c.insert(c.end(), word.begin(), word.end());
    }
    c.insert(c.end(), target.begin(), target.end());
    std::normal_distribution<float> normal(0, 60 * unit);
    for (int m = 0; m < 300 * d; ++m) c.push_back(normal(rng));
    std::vector<float> x = target;
    for (int count : {1, 5}) {
      const Assignment screened = assign(x, c, d, count);
      const Assignment expected = reference(x, c, d, count);
      EXPECT_EQ(screened.words, expected.words) << "unit " << unit << " count " << count;
      EXPECT_EQ(screened.words.front(), 40) << "unit " << unit;
    }
  }
}

// Words at nearly the same distance (closer together than int8 rounding can tell apart, far
// apart for float): the recomputation orders them.
TEST(ScreenedProducts, OrderWordsCloserThanTheInt8Resolution) {
  const ProductMethodScope method(ProductMethod::kInt8Screened);
  const int64_t d = 128, k = 2000;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  std::vector<float> x, c;
  for (int i = 0; i < 20; ++i) {
    std::vector<float> row(static_cast<size_t>(d));
    for (float& v : row) v = normal(rng);
    x.insert(x.end(), row.begin(), row.end());
    // Ten words around this row at distances 1 + 1e-3 * r, in scrambled order.
    for (int r = 0; r < 10; ++r) {
      std::vector<float> direction(static_cast<size_t>(d));
      float norm = 0;
      for (float& v : direction) {
        v = normal(rng);
        norm += v * v;
      }
      const float radius = std::sqrt(1 + 1e-3f * static_cast<float>((r * 7) % 10));
      for (int64_t t = 0; t < d; ++t)
        c.push_back(row[static_cast<size_t>(t)] +
                    direction[static_cast<size_t>(t)] * radius / std::sqrt(norm));
    }
  }
  while (static_cast<int64_t>(c.size()) < k * d) c.push_back(3 * normal(rng));
  for (int count : {1, 5, 10}) {
    const Assignment screened = assign(x, c, d, count);
    const Assignment expected = reference(x, c, d, count);
    EXPECT_EQ(screened.words, expected.words) << "count " << count;
    for (size_t a = 0; a < expected.distances.size(); ++a)
      EXPECT_NEAR(screened.distances[a], expected.distances[a], 1e-4) << a;
  }
}

// Random data of every shape the screen meets: dimensions not a multiple of the vector width,
// fewer words than one vector step, more than one column tile (8,192), all-zero rows and words,
// magnitudes from 1e-20 to 1e15, and one to three threads: the same words as the float path.
TEST(ScreenedProducts, GiveTheFloatPathsWordsOnRandomDataOfEveryShape) {
  std::mt19937 rng(9);
  std::normal_distribution<float> normal;
  struct Shape {
    int64_t n, k, d;
    float scale;
  };
  for (const Shape& s :
       {Shape{50, 5, 13, 1}, Shape{300, 1024, 128, 1}, Shape{700, 8200, 40, 1e-20f},
        Shape{90, 3000, 128, 1e15f}, Shape{260, 700, 7, 0.5f}, Shape{120, 4101, 16, 1}}) {
    std::vector<float> x(static_cast<size_t>(s.n * s.d)), c(static_cast<size_t>(s.k * s.d));
    for (float& v : x) v = normal(rng) * s.scale;
    for (float& v : c) v = normal(rng) * s.scale;
    std::fill_n(x.begin(), s.d, 0.0f);            // an all-zero row
    std::fill_n(c.begin() + 2 * s.d, s.d, 0.0f);  // an all-zero word
    // 10 words: more than its lanes keep of each (the threshold then may not be the exact
    // count-th upper bound); 40: more than the vector screen takes (the portable screen); 4,101
    // words: a second tile of five columns (one pass with offers, partly outside the vector loop).
    for (int count : {1, 5, 10, 40}) {
      if (count > s.k) continue;
      Assignment floats;
      {
        const ProductMethodScope method(ProductMethod::kFloat);
        floats = assign(x, c, s.d, count);
      }
      const ProductMethodScope method(ProductMethod::kInt8Screened);
      for (int threads : {1, 3}) {
        const Assignment screened = assign(x, c, s.d, count, threads);
        EXPECT_EQ(screened.words, floats.words)
            << s.n << " x " << s.k << " x " << s.d << " count " << count << " threads " << threads;
        for (size_t a = 0; a < floats.distances.size(); ++a) {
          ASSERT_NEAR(screened.distances[a], floats.distances[a],
                      1e-5 * (floats.distances[a] + s.scale * s.scale * static_cast<float>(s.d)))
              << a;
        }
      }
    }
  }
}

// 127 * 127 * d overflows an int32 beyond 133,000 dimensions: such descriptors take the float
// path (here the screen's products would wrap and the identical word would look farthest).
TEST(ScreenedProducts, LeaveDescriptorsTooLongForInt32ProductsToTheFloatPath) {
  const ProductMethodScope method(ProductMethod::kInt8Screened);
  const int64_t d = 140000;
  std::vector<float> x(static_cast<size_t>(d), 1.0f), c;
  for (const float v : {0.5f, 1.0f, -1.0f, 0.9f}) c.insert(c.end(), static_cast<size_t>(d), v);
  const Assignment a = assign(x, c, d, 2);
  EXPECT_EQ(a.words, (std::vector<int32_t>{1, 3}));
}

TEST(ScreenedProducts, AreChosenOnlyWhereTheyRun) {
  {
    const ProductMethodScope method(ProductMethod::kFloat);
    EXPECT_FALSE(uses_screened_products(65536));
  }
  const ProductMethodScope method(ProductMethod::kInt8Screened);
  EXPECT_EQ(uses_screened_products(16), screened_products_available());
}

}  // namespace
}  // namespace mda
