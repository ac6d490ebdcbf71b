// The typed options of every stage of the retrieval pipeline. Each default is written once, here;
// configs/default.yml carries the same values for the command line (a test checks that they agree)
// and src/mda/config/stage_options.cpp builds these structs from a configuration.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace mda {

// Multi-scale local feature extraction (evaluation.*, runtime.*).
struct ExtractionOptions {
  int image_size = 1024;  // longest side after resizing, never upscaled
  std::vector<double> scales = {2.0, 1.414, 1.0, 0.707, 0.5, 0.353, 0.25};
  int64_t features_num = 1000;        // n, local features kept per image
  std::string selection = "joint";    // joint | head_max | quota (method.md 1.8)
  std::string precision = "float";    // float | bf16 | int8 (backbone; int8: MobileNetV1, CPU)
  int batch_size = 1;                 // images of one size through the network together (GPU)
  int threads = 0;                    // compute threads, 0 = one per core
  int decode_threads = 4;             // image decoding threads running ahead of the network
  std::string on_bad_image = "fail";  // fail | skip
};

// k-means codebook training (train_codebook.codebook.*).
struct KMeansOptions {
  int64_t k = 65536;  // visual words
  int iterations = 10;
  int64_t max_points_per_centroid = 256;
  uint64_t seed = 1234;
  int threads = 1;
  // Where the assignment step runs: "cpu" (BLAS), or "torch-cpu"/"cuda" where the network
  // library is linked. Sampling, initialisation and the centroid update are the same on all.
  std::string device = "cpu";
};

// How database images are encoded into an index (build_ivf.*); fixed when the index is created.
struct IndexOptions {
  bool binary = true;           // ASMK* (binarized residuals) or ASMK (float residuals)
  int multiple_assignment = 1;  // words per database descriptor
};

// How queries are scored (query_ivf.*, build_ivf.ivf.use_idf); may change from search to search.
struct SearchOptions {
  int multiple_assignment = 5;        // words per query descriptor
  double alpha = 3.0;                 // selectivity power, > 0
  double similarity_threshold = 0.0;  // tau in [-1, 1]
  bool use_idf = false;
  int64_t topk = 0;  // images returned per query, 0 = all
  int threads = 1;   // queries scored in parallel
};

// Called as long work advances: (items done, items in all).
using ProgressCallback = std::function<void(int64_t, int64_t)>;

}  // namespace mda
