#include "mda/train/augmentation.h"

#include <algorithm>
#include <cmath>

#include "mda/image/transform.h"
#include "mda/util/error.h"

namespace mda {

void AugmentationOptions::validate() const {
  if (!(crop_min_area > 0 && crop_min_area <= 1))
    fail("training.augmentation.crop_min_area must be in (0, 1], found ", crop_min_area);
  if (!(scale_min > 0 && scale_min <= scale_max))
    fail("training.augmentation.scale must satisfy 0 < min <= max, found [", scale_min, ", ",
         scale_max, "]");
  if (!(color_jitter >= 0 && color_jitter < 1))
    fail("training.augmentation.color_jitter must be in [0, 1), found ", color_jitter);
}

Image augment_image(const Image& image, const AugmentationOptions& options, SplitMix64& rng) {
  if (!options.enabled || image.empty()) return image;
  // Crop with the image's aspect ratio.
  const double side = std::sqrt(rng.uniform(options.crop_min_area, 1.0));
  const double w = image.width * side, h = image.height * side;
  const double x0 = rng.uniform(0.0, image.width - w), y0 = rng.uniform(0.0, image.height - h);
  Image out = crop(image, {x0, y0, x0 + w, y0 + h});
  const double scale = rng.uniform(options.scale_min, options.scale_max);
  const int target =
      std::max(1, static_cast<int>(std::lround(std::max(out.width, out.height) * scale)));
  out = resize_max_side(out, target, /*allow_upscale=*/true);

  const double j = options.color_jitter;
  const double brightness = rng.uniform(1 - j, 1 + j);
  const double contrast = rng.uniform(1 - j, 1 + j);
  const double saturation = rng.uniform(1 - j, 1 + j);
  double mean_grey = 0;
  const size_t pixels = static_cast<size_t>(out.width) * out.height;
  for (size_t i = 0; i < pixels; ++i) {
    const uint8_t* p = &out.pixels[i * 3];
    mean_grey += 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
  }
  mean_grey = pixels ? mean_grey / static_cast<double>(pixels) : 0.0;
  for (size_t i = 0; i < pixels; ++i) {
    uint8_t* p = &out.pixels[i * 3];
    double rgb[3] = {p[0] * brightness, p[1] * brightness, p[2] * brightness};
    const double grey = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];
    for (double& c : rgb) {
      c = grey + saturation * (c - grey);
      c = brightness * mean_grey + contrast * (c - brightness * mean_grey);
      p[&c - rgb] = static_cast<uint8_t>(std::clamp(std::lround(c), 0L, 255L));
    }
  }
  return out;
}

}  // namespace mda
