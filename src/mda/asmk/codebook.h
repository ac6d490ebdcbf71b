// The quantize + aggregate step that turns one image's descriptors into its ASMK representation,
// with the codebook of the public API (mda/codebook.h).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "mda/asmk/aggregate.h"
#include "mda/codebook.h"

namespace mda {

// Seconds spent in the two halves of encode_features, summed over calls.
struct EncodeTimings {
  double quantize = 0;
  double aggregate = 0;
};

// Nearest `ma` words per descriptor, then residual aggregation (binarized when `binary`).
// Descriptors of another dimension than the codebook's, or none, are an error naming `what`.
// `timings`, when given, accumulates the seconds of both steps.
AggregatedImage encode_features(const Codebook& codebook, const float* descriptors, int64_t n,
                                int64_t descriptor_dim, int ma, bool binary, int threads,
                                const std::string& what, EncodeTimings* timings = nullptr);

// One image's descriptors among many: `count` rows of `dim` values (the codebook's dimension, or
// encode_images fails naming the image).
struct DescriptorRange {
  const float* descriptors = nullptr;
  int64_t count = 0;
  int64_t dim = 0;
};

// encode_features for many images (a database): their descriptors are quantized together in
// blocks of about 16k rows, so the product runs at the sgemm's full rate rather than at the rate of
// one image's few hundred rows (rows that lie one after another in memory are not copied), and
// each block's images are aggregated on `threads` threads. Errors name `what(i)` for image i;
// `progress` is called per block with the images done so far.
std::vector<AggregatedImage> encode_images(const Codebook& codebook,
                                           const std::vector<DescriptorRange>& images, int ma,
                                           bool binary, int threads,
                                           const std::function<std::string(size_t)>& what,
                                           const ProgressCallback& progress = nullptr,
                                           EncodeTimings* timings = nullptr);

// FNV-1a 64 of the centroid bytes: ties an index to the codebook that built it.
uint64_t codebook_fingerprint(const std::vector<float>& centroids);

}  // namespace mda
