// ASMK* speed and memory, each against a reference measured in the same run:
//  (a) inverted-file scan: entries scanned per second per thread, as bytes (20 per entry) over the
//      read bandwidth of a single-thread copy loop;
//  (b) quantization: nearest-word assignment of 1000 x 128 descriptors to 65,536 words, as the
//      time of the bare sgemm of the same shapes over the quantization time;
//  (c) memory: bytes per stored entry and per image of the index file.
//   mda_bench_asmk [IMAGES=200000] [ENTRIES_PER_IMAGE=700] [QUERIES=20]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "mda/asmk/inverted_file.h"
#include "mda/asmk/matrix.h"

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Bytes read per second by a single-thread copy of a buffer much larger than the caches.
double copy_read_bandwidth() {
  const size_t bytes = size_t{1} << 30;
  std::vector<uint8_t> a(bytes, 1), b(bytes, 0);
  std::memcpy(b.data(), a.data(), bytes);  // touch both
  double best = 1e30;
  for (int r = 0; r < 3; ++r) {
    const double t = now();
    std::memcpy(b.data(), a.data(), bytes);
    best = std::min(best, now() - t);
  }
  if (b[bytes / 2] != 1) std::printf("copy failed\n");
  return static_cast<double>(bytes) / best;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t images = argc > 1 ? std::stoll(argv[1]) : 200000;
  const int64_t per_image = argc > 2 ? std::stoll(argv[2]) : 700;
  const int queries = argc > 3 ? std::stoi(argv[3]) : 20;
  const int64_t words = 65536, dim = 128;
  std::mt19937_64 rng(1);

  // (a) A synthetic index: every image has `per_image` distinct random words.
  std::vector<uint64_t> counts(static_cast<size_t>(words), 0);
  std::vector<std::vector<uint32_t>> postings(static_cast<size_t>(words));
  std::vector<int32_t> chosen(static_cast<size_t>(per_image));
  for (int64_t id = 0; id < images; ++id) {
    for (int64_t i = 0; i < per_image; ++i)
      chosen[static_cast<size_t>(i)] = static_cast<int32_t>(rng() % words);
    std::sort(chosen.begin(), chosen.end());
    const auto end = std::unique(chosen.begin(), chosen.end());
    for (auto it = chosen.begin(); it != end; ++it)
      postings[static_cast<size_t>(*it)].push_back(static_cast<uint32_t>(id));
  }
  std::vector<uint64_t> offsets(static_cast<size_t>(words + 1), 0);
  for (int64_t w = 0; w < words; ++w)
    offsets[static_cast<size_t>(w + 1)] =
        offsets[static_cast<size_t>(w)] + postings[static_cast<size_t>(w)].size();
  const uint64_t entries = offsets.back();
  std::vector<uint32_t> ids;
  ids.reserve(entries);
  std::vector<uint32_t> image_words(static_cast<size_t>(images), 0);
  for (auto& p : postings) {
    for (uint32_t id : p) ++image_words[id];
    ids.insert(ids.end(), p.begin(), p.end());
    std::vector<uint32_t>().swap(p);
  }
  std::vector<uint8_t> codes(entries * 16);
  for (size_t i = 0; i < codes.size(); i += 8) {
    const uint64_t r = rng();
    std::memcpy(&codes[i], &r, 8);
  }
  const mda::InvertedFile ivf =
      mda::InvertedFile::from_postings(words, dim, true, 0, std::move(offsets), std::move(ids),
                                       std::move(codes), std::move(image_words));
  const mda::SearchOptions params;
  const mda::SearchContext context = ivf.context(params);
  std::vector<mda::AggregatedImage> qs;
  for (int q = 0; q < queries; ++q) {
    mda::AggregatedImage query;
    query.dim = dim;
    std::vector<int32_t> w(static_cast<size_t>(words));
    for (int64_t i = 0; i < words; ++i) w[static_cast<size_t>(i)] = static_cast<int32_t>(i);
    std::shuffle(w.begin(), w.end(), rng);
    query.words.assign(w.begin(), w.begin() + 700);
    std::sort(query.words.begin(), query.words.end());
    query.codes.resize(700 * 16);
    for (auto& c : query.codes) c = static_cast<uint8_t>(rng());
    qs.push_back(std::move(query));
  }
  ivf.scores(qs[0], params, context);  // warm-up
  uint64_t scanned = 0;
  for (const auto& q : qs) {
    for (int32_t w : q.words) scanned += static_cast<uint64_t>(ivf.postings(w));
  }
  double scan_seconds = 1e30;
  for (int r = 0; r < 2; ++r) {
    const double t0 = now();
    for (const auto& q : qs) ivf.scores(q, params, context);
    scan_seconds = std::min(scan_seconds, now() - t0);
  }
  const double bandwidth = copy_read_bandwidth();
  const double entries_per_second = static_cast<double>(scanned) / scan_seconds;
  std::printf(
      "(a) scan: %lld images x %lld entries (%llu stored), %d queries of 700 words, 1 thread\n",
      static_cast<long long>(images), static_cast<long long>(per_image),
      static_cast<unsigned long long>(entries), queries);
  std::printf(
      "    %.3g entries/s = %.2f GB/s at 20 B/entry; copy loop reads %.2f GB/s; ratio %.2f (target "
      ">= 0.5)\n",
      entries_per_second, entries_per_second * 20 / 1e9, bandwidth / 1e9,
      entries_per_second * 20 / bandwidth);

  // (c) Memory of the index file.
  const std::string path = "/tmp/mda_bench_asmk.ivf";
  ivf.save(path);
  const mda::IvfStats file = mda::InvertedFile::load(path).stats();
  std::remove(path.c_str());
  const double per_image_bytes = 4.0 + 8.0 * (words + 1) / static_cast<double>(images);
  std::printf(
      "(c) memory: file %.2f GB, %.2f bytes per stored entry (target <= 20), plus %.2f bytes per "
      "image\n",
      file.file_bytes / 1e9,
      (file.file_bytes - per_image_bytes * images) / static_cast<double>(entries), per_image_bytes);

  // (b) Quantization against the bare sgemm of the same shapes.
  const int64_t n = 1000;
  std::vector<float> centroids(static_cast<size_t>(words * dim)), x(static_cast<size_t>(n * dim));
  std::normal_distribution<float> normal;
  for (float& v : centroids) v = normal(rng);
  for (float& v : x) v = normal(rng);
  const std::vector<float> norms = mda::row_norms(centroids.data(), words, dim);
  std::vector<float> product(static_cast<size_t>(n * words));
  std::vector<int32_t> assigned(static_cast<size_t>(n));
  std::vector<float> distance(static_cast<size_t>(n));
  mda::matmul_transposed(n, words, dim, x.data(), centroids.data(), product.data());  // warm-up
  double gemm = 1e30, quantize = 1e30;
  for (int r = 0; r < 3; ++r) {
    double t = now();
    mda::matmul_transposed(n, words, dim, x.data(), centroids.data(), product.data());
    gemm = std::min(gemm, now() - t);
    t = now();
    mda::nearest_centroids(x.data(), n, centroids.data(), norms, words, dim, 1, assigned.data(),
                           distance.data(), 2);
    quantize = std::min(quantize, now() - t);
  }
  std::printf(
      "(b) quantization (%s): %.3g assignments/s of %lld-d to %lld words; sgemm alone %.1f "
      "GFLOP/s; ratio %.2f (target >= 0.7)\n",
      !mda::blas_available()               ? "no BLAS"
      : mda::uses_screened_products(words) ? "int8 products, screened"
                                           : "float products",
      n / quantize, static_cast<long long>(dim), static_cast<long long>(words),
      2.0 * n * words * dim / gemm / 1e9, gemm / quantize);
  return 0;
}
