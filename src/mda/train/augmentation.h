// Training-time augmentation of one image (off by default, as in HOW): a random crop keeping a
// random fraction of the area, a random rescale, and colour jitter of brightness, contrast and
// saturation. Everything is drawn from the caller's seeded generator, so a run is reproducible.
#pragma once

#include "mda/image/image.h"
#include "mda/util/random.h"

namespace mda {

struct AugmentationOptions {
  bool enabled = false;
  double crop_min_area = 0.64;  // the crop keeps between this fraction and all of the area
  double scale_min = 0.75;      // the (already resized) image is rescaled by a factor in
  double scale_max = 1.0;       // [scale_min, scale_max]
  double color_jitter = 0.2;    // brightness, contrast, saturation factors in [1 - j, 1 + j]

  void validate() const;  // throws naming the bad value
};

// Returns the image unchanged when augmentation is disabled.
Image augment_image(const Image& image, const AugmentationOptions& options, SplitMix64& rng);

}  // namespace mda
