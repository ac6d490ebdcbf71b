#include "mda/image/transform.h"

#include <algorithm>
#include <cmath>

#include "mda/util/error.h"

namespace mda {
namespace {

// Filter taps of one output coordinate: the first input index and its normalised weights.
struct Taps {
  int first = 0;
  std::vector<float> weights;
};

std::vector<Taps> triangle_taps(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double support = std::max(scale, 1.0);  // filter radius in input pixels
  std::vector<Taps> taps(static_cast<size_t>(out_size));
  for (int o = 0; o < out_size; ++o) {
    const double center = (o + 0.5) * scale;
    const int first = std::max(0, static_cast<int>(std::floor(center - support)));
    const int last = std::min(in_size - 1, static_cast<int>(std::ceil(center + support)));
    Taps& t = taps[static_cast<size_t>(o)];
    t.first = first;
    double sum = 0;
    for (int i = first; i <= last; ++i) {
      const double w = std::max(0.0, 1.0 - std::fabs((i + 0.5 - center) / support));
      t.weights.push_back(static_cast<float>(w));
      sum += w;
    }
    if (sum <= 0) {  // cannot happen for in_size >= 1, kept as a guard against division by zero
      t.weights.assign(1, 1.0f);
      t.first = std::clamp(static_cast<int>(center), 0, in_size - 1);
      continue;
    }
    for (float& w : t.weights) w = static_cast<float>(w / sum);
  }
  return taps;
}

}  // namespace

Image resize(const Image& image, int width, int height) {
  if (image.empty()) fail("cannot resize an empty image");
  if (width <= 0 || height <= 0) fail("cannot resize to ", width, "x", height);
  if (width == image.width && height == image.height) return image;
  const std::vector<Taps> xt = triangle_taps(image.width, width);
  const std::vector<Taps> yt = triangle_taps(image.height, height);
  // Horizontal pass into floats, then vertical pass with rounding.
  std::vector<float> rows(static_cast<size_t>(image.height) * width * 3);
  for (int y = 0; y < image.height; ++y) {
    const uint8_t* src = &image.pixels[static_cast<size_t>(y) * image.width * 3];
    float* dst = &rows[static_cast<size_t>(y) * width * 3];
    for (int x = 0; x < width; ++x) {
      const Taps& t = xt[static_cast<size_t>(x)];
      float r = 0, g = 0, b = 0;
      for (size_t k = 0; k < t.weights.size(); ++k) {
        const uint8_t* p = src + (t.first + static_cast<int>(k)) * 3;
        r += t.weights[k] * p[0];
        g += t.weights[k] * p[1];
        b += t.weights[k] * p[2];
      }
      dst[x * 3] = r;
      dst[x * 3 + 1] = g;
      dst[x * 3 + 2] = b;
    }
  }
  Image out(width, height);
  for (int y = 0; y < height; ++y) {
    const Taps& t = yt[static_cast<size_t>(y)];
    uint8_t* dst = &out.pixels[static_cast<size_t>(y) * width * 3];
    for (int x = 0; x < width * 3; ++x) {
      float v = 0;
      for (size_t k = 0; k < t.weights.size(); ++k) {
        v +=
            t.weights[k] * rows[static_cast<size_t>(t.first + static_cast<int>(k)) * width * 3 + x];
      }
      dst[x] = static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
    }
  }
  return out;
}

void max_side_size(int width, int height, int max_side, bool allow_upscale, int& out_width,
                   int& out_height) {
  if (max_side <= 0) fail("image_size must be positive, found ", max_side);
  const int longest = std::max(width, height);
  if (longest <= max_side && !allow_upscale) {
    out_width = width;
    out_height = height;
    return;
  }
  const double scale = static_cast<double>(max_side) / longest;
  out_width = std::max(1, static_cast<int>(std::lround(width * scale)));
  out_height = std::max(1, static_cast<int>(std::lround(height * scale)));
}

Image resize_max_side(const Image& image, int max_side, bool allow_upscale) {
  int w = 0, h = 0;
  max_side_size(image.width, image.height, max_side, allow_upscale, w, h);
  return resize(image, w, h);
}

Image crop(const Image& image, const std::array<double, 4>& box) {
  for (double v : box) {
    if (!std::isfinite(v)) fail("crop box has a non-finite coordinate");
  }
  const int x1 = std::clamp(static_cast<int>(std::nearbyint(box[0])), 0, image.width);
  const int y1 = std::clamp(static_cast<int>(std::nearbyint(box[1])), 0, image.height);
  const int x2 = std::clamp(static_cast<int>(std::nearbyint(box[2])), 0, image.width);
  const int y2 = std::clamp(static_cast<int>(std::nearbyint(box[3])), 0, image.height);
  if (x2 <= x1 || y2 <= y1) {
    fail("crop box [", box[0], ", ", box[1], ", ", box[2], ", ", box[3], "] is empty inside a ",
         image.width, "x", image.height, " image");
  }
  Image out(x2 - x1, y2 - y1);
  for (int y = y1; y < y2; ++y) {
    std::copy_n(&image.pixels[(static_cast<size_t>(y) * image.width + x1) * 3],
                static_cast<size_t>(out.width) * 3,
                &out.pixels[static_cast<size_t>(y - y1) * out.width * 3]);
  }
  return out;
}

FloatImage to_normalized_float(const Image& image, const std::array<float, 3>& mean,
                               const std::array<float, 3>& std) {
  FloatImage out;
  out.channels = 3;
  out.height = image.height;
  out.width = image.width;
  const size_t plane = static_cast<size_t>(image.width) * image.height;
  out.data.resize(plane * 3);
  for (int c = 0; c < 3; ++c) {
    const float a = 1.0f / (255.0f * std[c]);
    const float b = -mean[c] / std[c];
    float* dst = &out.data[plane * c];
    for (size_t i = 0; i < plane; ++i) dst[i] = image.pixels[i * 3 + c] * a + b;
  }
  return out;
}

}  // namespace mda
