// HOW's initialisation of the reduction T (method.md 4.2): PCA-whitening of the (smoothed)
// backbone descriptors of the first training images at scale 1, the strongest per image by HOW's
// L2 attention.
#pragma once

#include "mda/data/image_list.h"
#include "mda/net/feature_extraction.h"
#include "mda/net/mda_net.h"
#include "mda/train/training_options.h"

namespace mda {

// Sets T of `net` (options.whitening_images images, options.whitening_features descriptors each).
void initialise_reduction(MdaNetImpl& net, const TrainingManifest& manifest,
                          const TrainingOptions& options, const ExtractionSettings& settings);

}  // namespace mda
