// Geometric and photometric image transforms that run before the network.
#pragma once

#include <array>

#include "mda/image/image.h"

namespace mda {

// Resamples to exactly width x height with a triangle (bilinear) filter whose support widens when
// shrinking, so downscaling averages all covered pixels instead of aliasing (as PIL does).
Image resize(const Image& image, int width, int height);

// Scales so that the longest side is `max_side`, keeping the aspect ratio. An image already
// smaller is returned unchanged unless `allow_upscale`.
Image resize_max_side(const Image& image, int max_side, bool allow_upscale = false);

// Output size of resize_max_side, without resampling.
void max_side_size(int width, int height, int max_side, bool allow_upscale, int& out_width,
                   int& out_height);

// Crops to the box [x1, y1, x2, y2) in pixels; coordinates are rounded half to even
// (Python's round, as PIL's crop does) and clipped to the image. An empty box is an error.
Image crop(const Image& image, const std::array<double, 4>& box);

// (pixel / 255 - mean) / std per channel, planar CHW layout.
FloatImage to_normalized_float(const Image& image, const std::array<float, 3>& mean = kImageNetMean,
                               const std::array<float, 3>& std = kImageNetStd);

}  // namespace mda
