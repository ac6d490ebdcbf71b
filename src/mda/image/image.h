// In-memory images: 8-bit RGB pixels, and normalised float tensors for the network.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mda {

// 8-bit RGB, row-major, interleaved (height x width x 3). Grey inputs are expanded to RGB.
struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;

  Image() = default;
  Image(int w, int h) : width(w), height(h), pixels(static_cast<std::size_t>(w) * h * 3, 0) {}
  bool empty() const { return width == 0 || height == 0; }
  uint8_t& at(int x, int y, int c) {
    return pixels[(static_cast<std::size_t>(y) * width + x) * 3 + c];
  }
  uint8_t at(int x, int y, int c) const {
    return pixels[(static_cast<std::size_t>(y) * width + x) * 3 + c];
  }
};

// Planar float image, channels x height x width: the network's input layout, without libtorch.
struct FloatImage {
  int channels = 0;
  int height = 0;
  int width = 0;
  std::vector<float> data;
};

// ImageNet normalisation used by the torchvision backbones.
constexpr std::array<float, 3> kImageNetMean = {0.485f, 0.456f, 0.406f};
constexpr std::array<float, 3> kImageNetStd = {0.229f, 0.224f, 0.225f};

}  // namespace mda
