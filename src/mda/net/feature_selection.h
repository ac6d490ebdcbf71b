// Which locations of an image's attention maps become its local features (method.md 1.8), for
// each HeadSelection mode (features/head_selection.h).
#pragma once

#include <torch/torch.h>

#include <cstdint>

#include "mda/features/head_selection.h"

namespace mda {

struct SelectedLocations {
  torch::Tensor positions;  // keep indices into P, strongest first (int64)
  torch::Tensor scores;     // the selection's score of each: 1 for the strongest (float)
  torch::Tensor heads;      // the head each was taken for (int64)
};

// attention: N x P, every head's value at every location of every scale (all >= 0). Ties keep the
// lower location index first.
SelectedLocations select_feature_locations(const torch::Tensor& attention, int64_t keep,
                                           HeadSelection selection);

}  // namespace mda
