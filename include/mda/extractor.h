// A trained MDA (or HOW) model ready to extract local features: the top-n descriptors of an image
// over the configured scales, ranked by attention (method.md 1.8), and global descriptors.
// Needs the network library (a build with libtorch); without it the constructor throws.
//
// Thread safety: one Extractor may be shared; its calls run one at a time (the network itself
// uses options.threads).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mda/local_features.h"
#include "mda/options.h"

namespace mda {

// A query region in the pixels of the full image. The crop keeps the scale it has in the full
// image (as revisitop's queries do): the full image's longest side is resized to image_size.
struct BoundingBox {
  double x1 = 0, y1 = 0, x2 = 0, y2 = 0;
};

// 8-bit RGB, row-major, height x width x 3.
struct RgbImage {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;
};

// What the network attends to in one image, at the size it is extracted at (scale 1): each head's
// attention map blended over the image as a heat map, and the kept local features of all scales
// drawn in the colour of the head that selected them (as in the HTML report).
struct AttentionPicture {
  RgbImage image;
  std::vector<RgbImage> heads;
  RgbImage features;
  std::vector<int64_t> features_per_head;
};

class Extractor {
 public:
  // `model_path` is a model file of `mda import-weights` or `mda train`; device "cpu" or "cuda".
  Extractor(const std::string& model_path, ExtractionOptions options = {},
            const std::string& device = "cpu");
  Extractor(Extractor&&) noexcept;
  Extractor& operator=(Extractor&&) noexcept;
  ~Extractor();

  // An image file (JPEG, PNG, BMP, ...), optionally cropped to `box`.
  LocalFeatures extract(const std::string& image_path,
                        const std::optional<BoundingBox>& box = std::nullopt) const;
  // Encoded image bytes; `source` names them in errors.
  LocalFeatures extract_encoded(const std::vector<uint8_t>& bytes,
                                const std::optional<BoundingBox>& box = std::nullopt,
                                const std::string& source = "image bytes") const;
  // A decoded height x width x 3 RGB image, row-major.
  LocalFeatures extract_rgb(const uint8_t* rgb, int width, int height,
                            const std::optional<BoundingBox>& box = std::nullopt) const;
  // The attention maps of a decoded RGB image (optionally cropped). CPU models only.
  AttentionPicture attention_maps(const uint8_t* rgb, int width, int height,
                                  const std::optional<BoundingBox>& box = std::nullopt) const;
  // Every image of a list, decoded ahead on options.decode_threads threads, in list order. An
  // unreadable image is an error naming it. `progress` defaults to a progress bar on stderr.
  std::vector<LocalFeatures> extract_many(const std::vector<std::string>& image_paths,
                                          ProgressCallback progress = nullptr) const;
  // The combined global descriptor (mean of the heads' L2-normalised attention-pooled
  // descriptors, normalised) at scale 1: descriptor_dim() floats.
  std::vector<float> global_descriptor(const std::string& image_path) const;

  int64_t descriptor_dim() const;
  int heads() const;
  const ExtractionOptions& options() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace mda
