// What the attention heads of a network do on a set of images (method.md 1.8, issue: heads that
// collapse at selection time): how many kept features each head detected, the scale of each
// head's attention, and how much the heads' spatial distributions overlap.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mda/io/value.h"
#include "mda/local_features.h"
#include "mda/net/feature_extraction.h"
#include "mda/net/mda_net.h"

namespace mda {

struct HeadStatistics {
  int64_t images = 0;
  std::vector<int64_t> features_per_head;  // kept local features by detecting head
  std::vector<double> mean_peak;  // per head: mean over images of the largest attention value
  // Mean Bhattacharyya coefficient between two different heads' softmax-normalised maps
  // (1 + L_reg of Eq. 9): 1 = the heads attend identically, 0 = to disjoint places.
  double overlap = 0;

  Value to_value() const;
  std::string summary() const;  // one line for logs
};

// Maps at scale 1 of every item (resized to settings.image_size) for the peaks and the overlap;
// `features` (the same items' kept local features) for the counts.
HeadStatistics measure_head_statistics(MdaNetImpl& net, const std::vector<ExtractionItem>& items,
                                       const ExtractionSettings& settings,
                                       const std::vector<LocalFeatures>& features);

}  // namespace mda
