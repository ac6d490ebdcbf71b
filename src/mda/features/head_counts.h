// How many kept local features each attention head detected: the first thing to look at when one
// head takes every feature (method.md 1.8).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mda/local_features.h"

namespace mda {

// Counts per head index (0-based), sized to the largest head seen + 1, at least `heads` (the
// model's head count: without it a last head that kept nothing would not be listed; 0 when
// unknown).
std::vector<int64_t> count_features_per_head(const std::vector<LocalFeatures>& images,
                                             int64_t heads);

// "1907 / 2275 / 5782 / 2036 (largest 48%)".
std::string format_head_counts(const std::vector<int64_t>& counts);

}  // namespace mda
