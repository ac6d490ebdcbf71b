// The quantize + aggregate step that turns one image's descriptors into its ASMK representation,
// with the codebook of the public API (mda/codebook.h).
#pragma once

#include <cstdint>
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

// FNV-1a 64 of the centroid bytes: ties an index to the codebook that built it.
uint64_t codebook_fingerprint(const std::vector<float>& centroids);

}  // namespace mda
